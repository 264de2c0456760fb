/// The object types live in `KubeAPI`, which does not link libcurl, so the
/// pure modules (AviaryAPI, Rollouts, Plugin) build and test without it; every
/// user of the client sees them through `import Kube` as before.
@_exported import KubeAPI
