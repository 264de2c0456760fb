import Controller
import Logging
import ServiceLifecycle

/// Delivers the controller's side effects (Kubernetes Events) as a
/// service of the lifecycle group. List it before the `ControllerService`:
/// the group shuts services down in reverse order, so on SIGTERM the
/// controller finishes its reconciles first, and then this delivers what they
/// queued, for at most `flushTimeout`, before the process exits.
public struct SideEffectsService: Service {
    let effects: SideEffects
    let deliver: SideEffects.Deliver
    let flushTimeout: Duration
    let logger: Logger

    public init(effects: SideEffects, deliver: @escaping SideEffects.Deliver, flushTimeout: Duration = .seconds(5), logger: Logger) {
        self.effects = effects
        self.deliver = deliver
        self.flushTimeout = flushTimeout
        self.logger = logger
    }

    /// The controller's side effects, delivered by its executor.
    public init(controller: RolloutController, flushTimeout: Duration = .seconds(5), logger: Logger) {
        self.init(effects: controller.sideEffects, deliver: { await controller.deliver($0) }, flushTimeout: flushTimeout, logger: logger)
    }

    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [effects, deliver] in await effects.run(deliver) }
            // Cancelled instead (the group is going down on an error): the loop is cancelled with us.
            guard (try? await gracefulShutdown()) != nil else { return }
            let queued = effects.pending
            if queued > 0 { logger.info("delivering \(queued) queued events before exiting") }
            effects.finish()
            group.addTask { [flushTimeout] in try? await Task.sleep(for: flushTimeout) }
            // The loop drained, or the time is up: either way stop the other.
            await group.next()
            group.cancelAll()
            let left = effects.pending
            if left > 0 { logger.warning("\(left) events not delivered within \(flushTimeout) of shutdown") }
        }
    }
}
