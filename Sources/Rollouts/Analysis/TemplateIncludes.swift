import AviaryAPI

/// AnalysisTemplates that include others (`spec.templates`, as in Argo 1.7):
/// a reference expands to its template and, depth first, every template it
/// includes. Pure, like the rest of the planner.
///
/// A template reached twice through includes (a diamond) counts once; one
/// that includes itself, directly or through others, is an error naming the
/// chain; so is a chain deeper than `maxDepth` or more than `maxTemplates`
/// templates in all (a user's data decides how far this walks).
enum TemplateIncludes {
    static let maxDepth = 10
    static let maxTemplates = 100

    /// One template a run is built from, and how it is named in messages.
    struct Found {
        var kind: String
        var ref: AnalysisTemplateRef
        var template: AnalysisTemplate
    }

    static func expand(_ refs: [AnalysisTemplateRef], catalog: TemplateCatalog, problems: inout [String]) -> [Found] {
        var found: [Found] = []
        var included: Set<String> = []
        var tooMany = false
        func label(_ ref: AnalysisTemplateRef) -> String {
            "\(ref.clusterScope == true ? "ClusterAnalysisTemplate" : "AnalysisTemplate") \"\(ref.templateName)\""
        }
        func visit(_ ref: AnalysisTemplateRef, path: [String], viaInclude: Bool) {
            let name = label(ref)
            if let loop = path.firstIndex(of: name) {
                problems.append("\(path[loop]) includes itself: \((path[loop...] + [name]).joined(separator: " → "))")
                return
            }
            if viaInclude, included.contains(name) { return }
            guard path.count < maxDepth else {
                problems.append("\((path + [name]).joined(separator: " → ")): templates nest more than \(maxDepth) deep")
                return
            }
            guard found.count < maxTemplates else {
                if !tooMany { problems.append("more than \(maxTemplates) templates in one analysis, counting includes") }
                tooMany = true
                return
            }
            guard let template = (ref.clusterScope == true ? catalog.cluster : catalog.namespaced)[ref.templateName] else {
                let via = path.last.map { "\($0): templates: " } ?? ""
                if let why = (ref.clusterScope == true ? catalog.undecodableCluster : catalog.undecodableNamespaced)[ref.templateName] {
                    problems.append("\(via)\(name) cannot be read: \(why)")
                } else {
                    problems.append("\(via)\(name) not found")
                }
                return
            }
            if viaInclude { included.insert(name) }
            found.append(Found(kind: ref.clusterScope == true ? "ClusterAnalysisTemplate" : "AnalysisTemplate", ref: ref, template: template))
            for inner in template.spec.templates ?? [] {
                visit(inner, path: path + [name], viaInclude: true)
            }
        }
        for ref in refs { visit(ref, path: [], viaInclude: false) }
        return found
    }
}
