/// The fields of a RAVDESS file name, `MM-VV-EE-II-SS-RR-AA.ext`.
public struct RavdessName: Sendable, Hashable {
    /// 1 audio+video, 2 video only, 3 audio only.
    public var modality: Int
    /// 1 speech, 2 song.
    public var vocalChannel: Int
    public var emotion: RavdessEmotion
    /// 1 normal, 2 strong.
    public var intensity: Int
    public var statement: Int
    public var repetition: Int
    /// 1 to 24; odd actors are male.
    public var actor: Int

    /// Parses a file name or path; `nil` when the name does not follow RAVDESS.
    public init?(path: String) {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        let stem = file.split(separator: ".", maxSplits: 1).first.map(String.init) ?? file
        let fields = stem.split(separator: "-").map { Int($0) }
        guard fields.count == 7, fields.allSatisfy({ $0 != nil }) else { return nil }
        let values = fields.map { $0! }
        guard let emotion = RavdessEmotion(rawValue: values[2]), (1...3).contains(values[0]),
              (1...2).contains(values[3]), (1...24).contains(values[6]) else { return nil }
        modality = values[0]
        vocalChannel = values[1]
        self.emotion = emotion
        intensity = values[3]
        statement = values[4]
        repetition = values[5]
        actor = values[6]
    }

    /// The same take's name in another modality (e.g. the audio-only `03-…` of a `02-…` video).
    public func take(modality: Int, extension ext: String) -> String {
        let fields = [modality, vocalChannel, emotion.rawValue, intensity, statement, repetition, actor]
        return fields.map { $0 < 10 ? "0\($0)" : "\($0)" }.joined(separator: "-") + "." + ext
    }
}
