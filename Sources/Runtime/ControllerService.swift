import Controller
import Logging
import ServiceLifecycle

/// The controller as a lifecycle service. On SIGTERM (graceful shutdown) it
/// stops taking new work, lets in-flight reconciles finish, then releases the
/// Lease so the next leader takes over at once.
public struct ControllerService: Service {
    let controller: RolloutController
    let elector: LeaderElector?
    let logger: Logger

    public init(controller: RolloutController, elector: LeaderElector?, logger: Logger) {
        self.controller = controller
        self.elector = elector
        self.logger = logger
    }

    public func run() async throws {
        // Losing the Lease closes the write fence at once (a reconcile in flight
        // makes no further change) and stops taking work; run() then ends with
        // the loss as its error, and the pod restarts as a follower.
        elector?.onLoss { [controller] _ in controller.stopLeading() }
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                if let elector {
                    // Renewing stops only when the controller has finished (below).
                    group.addTask { try await elector.run() }
                }
                do {
                    try await controller.run(leadership: { try await elector?.waitForLeadership() })
                } catch is CancellationError {
                    // Shut down before leading.
                }
                group.cancelAll()
                // A lost lease ends the process with an error: the pod restarts as a follower.
                while let result = await group.nextResult() {
                    if case .failure(let error) = result, !(error is CancellationError) { throw error }
                }
            }
            await elector?.release()
            logger.info("controller stopped")
        } onGracefulShutdown: {
            logger.info("shutting down: finishing in-flight reconciles")
            elector?.abandon()
            controller.shutDown()
        }
    }
}
