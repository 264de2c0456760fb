import Foundation

/// The page, compiled into the binary (SwiftPM's `embedInCode` of
/// `Sources/Dashboard/Assets`), so the dashboard works offline and no CDN is
/// ever asked. A file added there is served once it is named here.
enum Assets {
    struct File: Sendable {
        var contentType: String
        var bytes: [UInt8]
    }

    /// URL path → file.
    static let files: [String: File] = [
        "/": File(contentType: "text/html; charset=utf-8", bytes: PackageResources.index_html),
        "/index.html": File(contentType: "text/html; charset=utf-8", bytes: PackageResources.index_html),
        "/assets/app.js": File(contentType: "text/javascript; charset=utf-8", bytes: PackageResources.app_js),
        "/assets/app.css": File(contentType: "text/css; charset=utf-8", bytes: PackageResources.app_css),
        "/assets/favicon.svg": File(contentType: "image/svg+xml", bytes: PackageResources.favicon_svg),
    ]
}
