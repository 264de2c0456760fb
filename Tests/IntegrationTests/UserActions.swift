// The tests drive rollouts with `KubeClient.perform(_:on:namespace:)` (in
// Controller, shared with `kubectl aviary` and the dashboard), rather than
// with patches of their own, so they test what users do.
import Controller
