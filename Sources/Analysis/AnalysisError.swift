/// A failure of the analysis layer itself (models, configuration), as opposed to the media or vision errors
/// it passes through.
public struct AnalysisError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        /// The models directory or a card could not be found or read.
        case modelsNotFound = "models_not_found"
        /// A card is malformed or inconsistent with its model.
        case invalidModelCard = "invalid_model_card"
        /// The model returned an unexpected number of outputs.
        case unexpectedOutput = "unexpected_output"
        /// The input holds nothing to analyse (e.g. an empty face image).
        case emptyInput = "empty_input"
    }

    public var code: Code
    public var reason: String

    public init(_ code: Code, reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code.rawValue): \(reason)" }
}

extension AnalysisError.Code {
    /// Lets `catch AnalysisError.Code.x` style matching work on any error.
    public static func ~= (code: Self, error: any Error) -> Bool {
        (error as? AnalysisError)?.code == code
    }
}
