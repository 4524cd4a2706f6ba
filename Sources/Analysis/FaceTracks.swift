import Emotion
import Foundation
import Vision

/// Where one face track was found: the sampled frames' times and boxes, in the upright frame's pixels.
public struct TrackPath: Sendable, Equatable {
    public var track: Int
    public var times: [Double] = []
    public var faces: [DetectedFace] = []

    public init(track: Int) { self.track = track }

    public var start: Double { times.first ?? 0 }
    public var end: Double { times.last ?? 0 }

    /// The track's box at `time`: linearly interpolated between the sampled frames around it, `nil` outside the
    /// track or inside a gap longer than `maximumGap` seconds (the face was lost there).
    public func box(at time: Double, maximumGap: Double) -> (x: Double, y: Double, width: Double, height: Double)? {
        guard let first = times.first, let last = times.last, time >= first - 1e-6, time <= last + 1e-6 else { return nil }
        let after = times.firstIndex { $0 >= time } ?? times.count - 1
        let before = max(0, times[after] > time ? after - 1 : after)
        let span = times[after] - times[before]
        guard span <= maximumGap else { return nil }
        let weight = span > 0 ? (time - times[before]) / span : 0
        let a = faces[before], b = faces[after]
        func mix(_ p: Double, _ q: Double) -> Double { p + (q - p) * weight }
        return (mix(a.x, b.x), mix(a.y, b.y), mix(a.width, b.width), mix(a.height, b.height))
    }

    /// The median box over the track, normalised to the frame (x, y, width, height in 0...1).
    public func medianBox(frameWidth: Int, frameHeight: Int) -> [Double] {
        func median(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        }
        let width = Double(max(frameWidth, 1)), height = Double(max(frameHeight, 1))
        return [median(faces.map(\.x)) / width, median(faces.map(\.y)) / height,
                median(faces.map(\.width)) / width, median(faces.map(\.height)) / height]
            .map { (min(max($0, 0), 1) * 10_000).rounded() / 10_000 }
    }
}

/// Who speaks in a clip, as the face stream decided it.
public enum SpeakerStatus: String, Sendable, Codable, Equatable {
    /// Speech, and one face in view: that face is taken to speak (no active speaker model runs).
    case singleFace = "single_face"
    /// Speech and several faces: the active speaker models picked the one that speaks.
    case detected
    /// Speech, but no face in view speaks (a voice-over): nothing is fused with a face.
    case notVisible = "speaker_not_visible"
    /// No speech in the clip: the clip's face is the largest and most persistent one.
    case noSpeech = "no_speech"
    /// The clip's audio could not be read or the active speaker models are not installed: as `noSpeech`.
    case unknown
}
