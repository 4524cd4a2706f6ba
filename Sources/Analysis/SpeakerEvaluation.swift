import Foundation
import Media

/// Several-people composites described by `scripts/speaker-composites`' `manifest.csv`.
public struct SpeakerComposite: Sendable, Equatable {
    public var file: String
    /// `two`, `three` or `voiceover`.
    public var kind: String
    /// Position (0 = leftmost) of the speaking take, `nil` for a voice-over.
    public var speakerPosition: Int?
    /// The takes shown, left to right (file names without extension).
    public var takes: [String]

    /// Reads `manifest.csv` in `directory`.
    public static func manifest(in directory: URL) throws -> [SpeakerComposite] {
        let text = try String(contentsOf: directory.appendingPathComponent("manifest.csv"), encoding: .utf8)
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 4 else { return nil }
            return SpeakerComposite(file: directory.appendingPathComponent(fields[0]).path, kind: fields[1],
                                    speakerPosition: Int(fields[2]),
                                    takes: fields[3].split(separator: "|").map(String.init).filter { !$0.hasPrefix("voice:") })
        }
    }

    /// The position (0 = leftmost of `takes.count` equal columns) of a face whose normalised box is `box`.
    public func position(ofBox box: [Double]) -> Int {
        guard box.count == 4, !takes.isEmpty else { return -1 }
        return min(takes.count - 1, max(0, Int((box[0] + box[2] / 2) * Double(takes.count))))
    }
}

/// Scores the speaker decisions and per-face labels on composites.
public struct SpeakerEvaluation: Sendable, Codable, Equatable {
    /// Composites with a visible speaker, and those where the speaker found was the right face.
    public var withSpeaker = 0
    public var speakerFound = 0
    /// Voice-overs, and those where no face was taken for the speaker.
    public var voiceOvers = 0
    public var voiceOversRefused = 0
    /// Faces compared with their take analysed alone, and those with the same label.
    public var facesCompared = 0
    public var facesAgreeing = 0
    /// Composites whose analysis failed.
    public var failures = 0
    /// Seconds of video and seconds spent deciding the speaker, by the number of faces shown.
    public var videoSeconds: [String: Double] = [:]
    public var speakerSeconds: [String: Double] = [:]

    public init() {}

    /// Records one composite: `speakerPosition` found (`nil`: none), the label of the face at each position.
    public mutating func record(_ composite: SpeakerComposite, speakerPosition: Int?, labels: [Int: String],
                                aloneLabels: [String: String], duration: Double, speakerTime: Double) {
        if composite.speakerPosition != nil {
            withSpeaker += 1
            if speakerPosition == composite.speakerPosition { speakerFound += 1 }
        } else {
            voiceOvers += 1
            if speakerPosition == nil { voiceOversRefused += 1 }
        }
        for (position, take) in composite.takes.enumerated() {
            guard let alone = aloneLabels[take] else { continue }
            facesCompared += 1
            if labels[position] == alone { facesAgreeing += 1 }
        }
        let faces = "\(composite.takes.count)"
        videoSeconds[faces, default: 0] += duration
        speakerSeconds[faces, default: 0] += speakerTime
    }

    /// A few lines for people.
    public var summary: String {
        func share(_ part: Int, _ whole: Int) -> String {
            whole == 0 ? "-" : String(format: "%d/%d (%.1f %%)", part, whole, 100 * Double(part) / Double(whole))
        }
        var lines = [
            "speaker found: \(share(speakerFound, withSpeaker))",
            "voice-overs with no speaker: \(share(voiceOversRefused, voiceOvers))",
            "faces labelled as their take alone: \(share(facesAgreeing, facesCompared))",
            "failed: \(failures)",
        ]
        for faces in videoSeconds.keys.sorted() where (videoSeconds[faces] ?? 0) > 0 {
            let cost = 1000 * (speakerSeconds[faces] ?? 0) / (videoSeconds[faces] ?? 1)
            lines.append(String(format: "%@ faces: speaker decision %.0f ms per second of video", faces, cost))
        }
        return lines.joined(separator: "\n")
    }
}
