/// The canonical output labels: Ekman's six basic emotions plus neutral, in FER2013's order.
public enum EmotionLabel: String, Sendable, CaseIterable, Codable, Comparable {
    case angry, disgust, fear, happy, sad, surprise, neutral

    /// Position in `allCases`.
    public var index: Int { Self.allCases.firstIndex(of: self)! }

    public static func < (lhs: EmotionLabel, rhs: EmotionLabel) -> Bool { lhs.index < rhs.index }
}

/// The eight RAVDESS emotions, numbered as in RAVDESS file names (01 neutral … 08 surprised).
public enum RavdessEmotion: Int, Sendable, CaseIterable, Codable {
    case neutral = 1, calm, happy, sad, angry, fearful, disgust, surprised

    /// The name RAVDESS uses.
    public var name: String { String(describing: self) }

    /// The canonical label (calm counts as neutral).
    public var canonical: EmotionLabel {
        switch self {
        case .neutral, .calm: .neutral
        case .happy: .happy
        case .sad: .sad
        case .angry: .angry
        case .fearful: .fear
        case .disgust: .disgust
        case .surprised: .surprise
        }
    }
}
