/// File-name extensions (lower case, no dot) of the media files the tools look for in folders.
public enum MediaExtensions {
    /// Video containers.
    public static let video: Set<String> = ["mp4", "mov", "mkv", "avi", "webm", "m4v", "mpg", "mpeg", "wmv", "flv", "ts"]
    /// Audio-only files.
    public static let audio: Set<String> = ["wav", "flac", "mp3", "m4a", "aac", "ogg", "opus"]
    /// Anything with a sound track.
    public static let withAudio: Set<String> = video.union(audio)
}
