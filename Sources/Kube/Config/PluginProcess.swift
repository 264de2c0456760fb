import CCurl
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs an exec credential plugin to its end on a thread of its own, so no
/// Swift-concurrency thread ever waits on it, and hands back what it wrote.
///
/// posix_spawn rather than Foundation's `Process`, for three reasons:
/// `Process` notices an exit through a socket the child inherits, so a plugin
/// that leaves a background helper running would never be seen to finish;
/// it puts every child in a new process group, where a plugin that prompts
/// (interactiveMode) would be stopped by SIGTTIN the moment it reads the
/// terminal; and it cannot kill the plugin's own children on a timeout.
/// Here a non-interactive plugin gets a process group of its own, so a
/// timeout kills it and everything it started; an interactive one stays in
/// ours, in the terminal's foreground.
enum PluginProcess {
    struct Outcome: Sendable {
        var exit: Exit
        var stdout: Data
        var stderr: Data
    }

    enum Exit: Sendable, Equatable {
        case status(Int32)
        case signal(Int32)
        /// Still running at the deadline: killed.
        case timedOut
        /// Wrote more than the stdout limit: killed.
        case stdoutTooLarge
    }

    /// posix_spawn failed: the errno it returned (ENOENT, EACCES, ENOEXEC…).
    struct SpawnFailure: Error, Sendable {
        var code: Int32
        var description: String { String(cString: strerror(code)) }
    }

    /// Starts `path` and waits (off the cooperative pool) until it exits, its
    /// output reaches `maxStdout` bytes, or `timeout` passes. Stderr is kept
    /// up to `maxStderr` bytes and drained past that. With `interactive`,
    /// the plugin shares our stdin and stderr (a terminal, to prompt on);
    /// otherwise stdin is /dev/null and stderr is captured.
    static func run(path: String, arguments: [String], environment: [String: String], interactive: Bool,
                    timeout: Duration, maxStdout: Int, maxStderr: Int) async throws -> Outcome {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Outcome, Error>) in
            let thread = Thread {
                continuation.resume(with: Result {
                    try runToEnd(path: path, arguments: arguments, environment: environment, interactive: interactive,
                                 timeout: timeout, maxStdout: maxStdout, maxStderr: maxStderr)
                })
            }
            thread.name = "aviary-exec-plugin"
            thread.start()
        }
    }

    /// Blocks the calling thread (never a cooperative one).
    static func runToEnd(path: String, arguments: [String], environment: [String: String], interactive: Bool,
                         timeout: Duration, maxStdout: Int, maxStderr: Int) throws -> Outcome {
        let deadline = ContinuousClock.now + timeout
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard aviary_pipe_cloexec(&outPipe) == 0 else { throw SpawnFailure(code: errno) }
        if !interactive, aviary_pipe_cloexec(&errPipe) != 0 {
            let code = errno
            close(outPipe[0]); close(outPipe[1])
            throw SpawnFailure(code: code)
        }
        defer {
            for fd in [outPipe[0], errPipe[0]] where fd >= 0 { close(fd) }
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if !interactive {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        _ = aviary_spawn_closefrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var flags = Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)
        if !interactive {
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(truncatingIfNeeded: flags))
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        // The engine ignores SIGPIPE process-wide; an ignored signal stays ignored across exec.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv = ([path] + arguments).map { strdup($0) }
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") }
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let spawned = (argv + [nil]).withUnsafeBufferPointer { a in
            (envp + [nil]).withUnsafeBufferPointer { e in
                guard let args = a.baseAddress, let vars = e.baseAddress else { return EINVAL }
                return posix_spawn(&pid, path, &actions, &attributes, args, vars)
            }
        }
        // Our copies of the write ends: the plugin has its own now.
        close(outPipe[1])
        if errPipe[1] >= 0 { close(errPipe[1]) }
        guard spawned == 0 else { throw SpawnFailure(code: spawned) }

        var stdout = Data()
        var stderr = Data()
        var exit: Exit?
        var open = [outPipe[0]] + (errPipe[0] >= 0 ? [errPipe[0]] : [])
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        reading: while !open.isEmpty {
            let left = deadline - .now
            if left <= .zero {
                exit = .timedOut
                break
            }
            var polled = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&polled, nfds_t(polled.count), Int32(clamping: left.milliseconds))
            if ready < 0 {
                if errno == EINTR { continue }
                exit = .timedOut
                break
            }
            for entry in polled where entry.revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    let chunk = buffer.prefix(min(n, buffer.count))
                    if entry.fd == outPipe[0] {
                        guard stdout.count + chunk.count <= maxStdout else {
                            exit = .stdoutTooLarge
                            break reading
                        }
                        stdout.append(contentsOf: chunk)
                    } else if stderr.count < maxStderr {
                        stderr.append(contentsOf: chunk.prefix(maxStderr - stderr.count))
                    }
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    open.removeAll { $0 == entry.fd }
                }
            }
        }

        var reaped = false
        if exit == nil {
            // The output is closed: wait for the exit, until the deadline.
            while true {
                var status: Int32 = 0
                let waited = waitpid(pid, &status, WNOHANG)
                if waited == pid {
                    exit = aviary_wait_signalled(status) != 0 ? .signal(aviary_wait_term_signal(status)) : .status(aviary_wait_exit_status(status))
                    reaped = true
                    break
                }
                if waited < 0, errno != EINTR {
                    exit = .status(-1)
                    reaped = true
                    break
                }
                if ContinuousClock.now >= deadline {
                    exit = .timedOut
                    break
                }
                usleep(2_000)
            }
        }
        if !reaped {
            // Killed with whatever it started (its own process group), unless it shares ours.
            _ = kill(interactive ? pid : -pid, SIGKILL)
            // Reaped within 5 s (SIGKILL is prompt); a process stuck in the kernel is left behind rather than waited on forever.
            var status: Int32 = 0
            for _ in 0..<2_500 {
                if waitpid(pid, &status, WNOHANG) != 0 { break }
                usleep(2_000)
            }
        }
        return Outcome(exit: exit ?? .timedOut, stdout: stdout, stderr: stderr)
    }
}
