/// What a probe of a media source found.
public struct MediaInfo: Sendable, Equatable, Codable {
    /// One stream of the container.
    public struct Stream: Sendable, Equatable, Codable {
        public enum Kind: String, Sendable, Hashable, Codable { case audio, video, other }
        public var index: Int
        public var kind: Kind
        public var codec: String
        /// Frames per second (video) — zero when unknown.
        public var frameRate: Double
        /// Pixel size (video) — zero for audio.
        public var width: Int
        public var height: Int
        /// Sample rate and channel count (audio) — zero for video.
        public var sampleRate: Int
        public var channels: Int
        /// Clockwise rotation in degrees (0, 90, 180, 270) that shows the video upright, from the container's display
        /// matrix (phones store frames sideways and flag them); decoded frames are handed over already rotated.
        public var rotation: Int = 0
        /// Width and height as displayed, after `rotation`.
        public var displayWidth: Int { rotation % 180 == 0 ? width : height }
        public var displayHeight: Int { rotation % 180 == 0 ? height : width }
    }

    /// Container format name, e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    public var format: String
    /// Duration in seconds (zero when the container does not say).
    public var duration: Double
    public var streams: [Stream]
    /// Indices of the streams FFmpeg picks as the best audio and video streams (`av_find_best_stream`): the ones
    /// the decoders read.
    public var bestAudioIndex: Int?
    public var bestVideoIndex: Int?

    /// The audio stream the decoder reads, if any.
    public var audio: Stream? { streams.first { $0.index == bestAudioIndex } }
    /// The video stream the decoder reads, if any.
    public var video: Stream? { streams.first { $0.index == bestVideoIndex } }
}
