/// The condition language, judgement and schedule live in `AnalysisCore`,
/// which has no network code; the providers here re-export it.
@_exported import AnalysisCore
