/// One face followed through a clip, with its own face-emotion result.
public struct FaceTrackResult: Sendable, Codable, Equatable {
    public init(track: Int, box: [Double], start: Double, end: Double, frames: Int, speaking: Double?, prediction: StreamPrediction) {
        self.track = track
        self.box = box
        self.start = start
        self.end = end
        self.frames = frames
        self.speaking = speaking
        self.prediction = prediction
    }

    /// The track's number within the clip (0, 1, … in order of first appearance).
    public var track: Int
    /// Median box over the track, normalised to the frame: x, y, width, height in 0...1.
    public var box: [Double]
    /// Media time of the first and last sampled frames showing the face, seconds.
    public var start: Double
    public var end: Double
    /// Sampled frames showing the face.
    public var frames: Int
    /// Share of the clip's speech during which this face is the speaker, 0...1; `nil` when it was not decided here
    /// (one face in view at a time: it speaks whenever the clip has speech, which the video worker cannot hear; Fusion
    /// sets the share once the audio is in).
    public var speaking: Double?
    /// The face stream's prediction from this track's frames alone.
    public var prediction: StreamPrediction
}
