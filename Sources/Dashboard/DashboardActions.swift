import AviaryAPI
import Controller
import FlyingFox
import Foundation
import Kube
import Logging
import Rollouts

/// The page's writes, with `--allow-actions`:
/// `POST /api/rollouts/{namespace}/{name}/actions/{verb}`, each sent through
/// `KubeClient.perform` (the one function `kubectl aviary` uses, so the page
/// and the terminal write the same patches) with the identity of the person
/// asking, after `CSRFGuard` has let the request through.
public struct DashboardActions: Sendable {
    /// The client to act with for one request. Locally: the caller's own
    /// kubeconfig. In the cluster: a client impersonating the user the
    /// request's credentials were reviewed as. Throw `Refused` to answer
    /// with its status and words (any other error is a 500).
    public typealias Identity = @Sendable (FlyingFox.HTTPRequest) async throws -> KubeClient

    /// Why the identity could not be had: the status and the words to answer with.
    public struct Refused: Error, Sendable, CustomStringConvertible {
        public var status: Int
        public var description: String
        public init(status: Int, _ description: String) {
            self.status = status
            self.description = description
        }
    }

    public enum Verb: String, Sendable, CaseIterable {
        case promote, promoteFull = "promote-full", abort, retry, undo, restart, setImage = "set-image"

        /// The verb in a sentence: "could not \(words) shop/web".
        var words: String {
            switch self {
            case .promote: return "promote"
            case .promoteFull: return "fully promote"
            case .abort: return "abort"
            case .retry: return "retry"
            case .undo: return "undo"
            case .restart: return "restart"
            case .setImage: return "set the image of"
            }
        }
    }

    static let maxBody = 16 * 1_024

    public let csrf: CSRFGuard
    let identity: Identity

    public init(csrf: CSRFGuard = CSRFGuard(), identity: @escaping Identity) {
        self.csrf = csrf
        self.identity = identity
    }

    /// `/api/rollouts/{namespace}/{name}/actions/{verb}` as its three parts; nil for any other path.
    public static func route(_ path: String) -> (namespace: String, name: String, verb: String)? {
        guard path.hasPrefix("/api/rollouts/") else { return nil }
        let parts = path.dropFirst("/api/rollouts/".count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[2] == "actions" else { return nil }
        return (String(parts[0]), String(parts[1]), String(parts[3]))
    }

    /// A namespace (DNS label) or Rollout name (DNS subdomain), as the API server would accept it.
    static func validName(_ s: String, max: Int) -> Bool {
        s.utf8.count <= max && s.range(of: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", options: .regularExpression) != nil
    }

    struct SetImageBody: Decodable { var container: String; var image: String }
    struct UndoBody: Decodable { var revision: Int? }

    /// The `UserAction` a verb and its body ask for, or why not (a 400's words).
    public static func action(_ verb: Verb, body: Data, now: KubeTime) -> Result<UserAction, Refused> {
        let bad = { (words: String) in Result<UserAction, Refused>.failure(Refused(status: 400, words)) }
        let object = body.isEmpty ? Data("{}".utf8) : body
        guard (try? JSONSerialization.jsonObject(with: object)) is [String: Any] else {
            return bad("the body must be a JSON object (or empty), e.g. {} or {\"container\": \"web\", \"image\": \"registry.example/web:2.0\"}")
        }
        switch verb {
        case .promote: return .success(.promote)
        case .promoteFull: return .success(.promoteFull)
        case .abort: return .success(.abort)
        case .retry: return .success(.retry)
        case .restart: return .success(.restart(at: now))
        case .undo:
            guard let b = try? JSONDecoder().decode(UndoBody.self, from: object) else {
                return bad("undo takes {\"revision\": N} (a whole number), or {} for the revision before the current one")
            }
            if let n = b.revision, n < 1 || n > Int(Int32.max) { return bad("revision \(n) is not a revision number (1 or more)") }
            return .success(.undo(toRevision: b.revision))
        case .setImage:
            guard let b = try? JSONDecoder().decode(SetImageBody.self, from: object) else {
                return bad("set-image takes {\"container\": NAME, \"image\": IMAGE}, both strings")
            }
            guard validName(b.container, max: 63), !b.container.contains(".") else {
                return bad("\"\(b.container.prefix(80))\" is not a container name (lowercase letters, digits and '-', at most 63)")
            }
            guard (1...1_024).contains(b.image.utf8.count), b.image.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
                return bad("the image must be 1 to 1024 printable characters without spaces, e.g. registry.example/web:2.0")
            }
            return .success(.setImage(container: b.container, image: b.image))
        }
    }

    /// One POST to an action's path: the CSRF rules, the route, the body, the identity, then the action.
    func handle(_ request: FlyingFox.HTTPRequest, logger: Logger, now: KubeTime = KubeTime.now()) async -> DashboardAPI.Reply {
        let h = request.headers
        if let refusal = csrf.refusal(csrf: h[HTTPHeader(CSRFGuard.header)], contentType: h[.contentType], origin: h[HTTPHeader("Origin")],
                                      fetchSite: h[HTTPHeader("Sec-Fetch-Site")], host: h[.host]) {
            return DashboardAPI.error(403, refusal)
        }
        guard let (ns, name, verbText) = Self.route(request.path) else {
            return DashboardAPI.error(404, "no such action path: actions are POST /api/rollouts/{namespace}/{name}/actions/{action}")
        }
        guard let verb = Verb(rawValue: verbText) else {
            return DashboardAPI.error(404, "no action \"\(verbText.prefix(40))\": the actions are \(Verb.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard Self.validName(ns, max: 63), !ns.contains("."), Self.validName(name, max: 253) else {
            return DashboardAPI.error(404, "no rollout \(name.prefix(253)) in namespace \(ns.prefix(63)): not a valid namespace and name")
        }
        if let length = h[.contentLength], Int(length).map({ $0 > Self.maxBody }) ?? true {
            return DashboardAPI.error(413, "the body is larger than \(Self.maxBody) bytes (or its Content-Length is not a number); an action's body is a small JSON object")
        }
        let body: Data
        do { body = try await request.bodyData } catch {
            return DashboardAPI.error(400, "the body could not be read: \(error)")
        }
        guard body.count <= Self.maxBody else { return DashboardAPI.error(413, "the body is larger than \(Self.maxBody) bytes") }
        let action: UserAction
        switch Self.action(verb, body: body, now: now) {
        case .success(let a): action = a
        case .failure(let refused): return DashboardAPI.error(refused.status, "could not \(verb.words) \(ns)/\(name): \(refused.description)")
        }
        let client: KubeClient
        do { client = try await identity(request) } catch let refused as Refused {
            return DashboardAPI.error(refused.status, refused.description)
        } catch {
            return DashboardAPI.error(500, "could not tell whom to act as: \(error); nothing was sent")
        }
        do {
            let done = try await client.perform(action, on: name, namespace: ns, at: now)
            logger.notice("dashboard action: \(verb.rawValue) \(ns)/\(name): \(done.outcome)")
            return DashboardAPI.json(ActionBody(ok: true, message: done.outcome))
        } catch {
            let reply = Self.failure(error, verb: verb, namespace: ns, name: name)
            logger.notice("dashboard action refused: \(verb.rawValue) \(ns)/\(name): \(String(decoding: reply.body, as: UTF8.self))")
            return reply
        }
    }

    struct ActionBody: Encodable { var ok: Bool; var message: String }
    /// `GET /api/session` with actions: `{"actions": true, "csrf": TOKEN}`.
    struct Session: Encodable { var actions: Bool; var csrf: String }

    /// A failed action in words: the API server's refusal, or why the action does not apply.
    public static func failure(_ error: any Error, verb: Verb, namespace ns: String, name: String) -> DashboardAPI.Reply {
        let what = "could not \(verb.words) \(ns)/\(name)"
        if let e = error as? UserActionError { return DashboardAPI.error(409, "\(what): \(e.description)") }
        guard let e = error as? KubeError else { return DashboardAPI.error(500, "\(what): \(error)") }
        let said = DashboardAPI.clip(e.status?.message ?? "(no message)", 1_000)
        switch e {
        case .api(403, _):
            return DashboardAPI.error(403, "\(what): the API server refused (403 Forbidden): \(said). The user acting needs get and patch on "
                                      + "rollouts and rollouts/status in \(ns) (`kubectl auth can-i patch rollouts.aviary.dev --subresource=status -n \(ns)`)")
        case .api(404, _):
            return DashboardAPI.error(404, "\(what): there is no such Rollout in namespace \(ns) (404; it may have just been deleted); the list at / shows the ones there are")
        case .api(409, _):
            return DashboardAPI.error(409, "\(what): the Rollout changed while the action was sent (409 Conflict: \(said)); look at it again and retry")
        case .api(401, _):
            return DashboardAPI.error(502, "\(what): the API server did not accept the credentials the dashboard acts with (401): \(said); "
                                      + "check the kubeconfig (log in again) and restart the dashboard")
        case .api(let code, _) where code == 400 || code == 422:
            return DashboardAPI.error(422, "\(what): the API server did not accept the change (\(code)): \(said)")
        case .api(let code, _):
            return DashboardAPI.error(502, "\(what): the API server answered \(code): \(said); reload to see whether anything changed")
        case .transport(let failure):
            return DashboardAPI.error(502, "\(what): \(failure.description); reload to see whether anything changed")
        default:
            return DashboardAPI.error(500, "\(what): \(e.description)")
        }
    }
}
