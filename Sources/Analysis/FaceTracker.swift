import Vision

/// How faces are searched for in a clip's sampled frames.
public struct FaceSearch: Sendable, Equatable {
    /// Longer side at which a whole frame is searched first (big faces; ~29 ms at 640x352).
    public var coarseSize = 640
    /// Longer side of a second whole-frame pass when the coarse one finds nothing (small faces in wide shots: a face 4 %
    /// of the frame height is ~29 px there, above the detector's ~16 px floor).
    public var fineSize = 1280
    /// After a fine pass that found nothing, sampled frames before the next one (a faceless wide video would
    /// otherwise pay ~120 ms a frame); once a fine pass has found a face in the clip, every miss gets one.
    public var fineRetryInterval = 5
    /// Searches between whole-frame searches while faces are tracked (to notice faces that enter; 2 s at the
    /// worker's sampling).
    public var fullSearchInterval = 10
    /// A tracked face is searched for in its last box grown by this fraction on every side.
    public var trackingMargin = 0.6
    /// Longer side at which that region is searched (a face then spans ~70 px of the detector's input).
    public var trackingSize = 160
    /// Faces followed at once (the largest are kept).
    public var maximumTracks = 4
    /// Least time in seconds between two searches: a frame sampled sooner after the last search reads the faces it
    /// found where they were (their landmarks carried over; at the worker's 10 frames per second every other frame,
    /// a tenth of a second on), so the face model sees twice the frames for the detector's cost of one.
    public var searchSpacing = 0.15
    /// Overlap with a track's last box above which a face found in a whole-frame search continues that track.
    public var matchOverlap = 0.3

    public init() {}
}

/// One face followed through a clip.
public struct FaceTrack: Sendable, Equatable {
    public var id: Int
    /// Where the face was last found.
    public var last: DetectedFace
    /// Whether the last search that looked for this face found it.
    public var active: Bool
    /// The sum of its box areas over the sampled frames where it was found.
    public var areaSum: Double
}

/// Follows faces through a clip's sampled frames: whole-frame searches (coarse, then fine) at the start, every
/// `fullSearchInterval` searches and whenever every tracked face is lost; in between, each active face is searched
/// only in a region around its last box, at a small input size. Frames sampled within `searchSpacing` of a search
/// reuse its faces. Not thread-safe.
public final class FaceTracker {
    public let search: FaceSearch
    public private(set) var tracks: [FaceTrack] = []
    /// Most faces found in one sampled frame.
    public private(set) var mostFacesInOneFrame = 0
    private let detector: FaceDetector
    private var framesSinceFullSearch = 0
    /// Whole-frame searches left to skip the fine pass after one that found nothing.
    private var fineSearchCooldown = 0
    private var fineSearchFoundFaces = false
    private var nextID = 0
    /// Whether the last call searched its frame (false where it carried the last search's faces over).
    public private(set) var searchedLastFrame = false
    /// The faces the last search found, and when.
    private var lastFound: [(track: Int, face: DetectedFace)] = []
    private var lastSearch = -Double.infinity

    public init(detector: FaceDetector, search: FaceSearch = .init()) {
        self.detector = detector
        self.search = search
    }

    /// The faces in this frame (shown at `time` seconds), each with the id of its track.
    public func faces(in image: GrayImage, at time: Double) throws(VisionError) -> [(track: Int, face: DetectedFace)] {
        if !lastFound.isEmpty, time >= lastSearch, time - lastSearch < search.searchSpacing {
            for (track, face) in lastFound {
                if let index = tracks.firstIndex(where: { $0.id == track }) { tracks[index].areaSum += face.area }
            }
            searchedLastFrame = false
            return lastFound
        }
        searchedLastFrame = true
        lastSearch = time
        let follows = framesSinceFullSearch < search.fullSearchInterval && tracks.contains { $0.active }
        var found = follows ? try followActiveTracks(image) : []
        if !follows || !tracks.contains(where: { $0.active }) {
            found = try fullSearch(image)
        }
        mostFacesInOneFrame = max(mostFacesInOneFrame, found.count)
        lastFound = found
        return found
    }

    /// The track to report for the clip: the largest and most persistent face (greatest summed area).
    public var primary: FaceTrack? { tracks.max { $0.areaSum < $1.areaSum } }

    /// Searches each active track's region; a track whose face is not there any more goes inactive.
    private func followActiveTracks(_ image: GrayImage) throws(VisionError) -> [(Int, DetectedFace)] {
        framesSinceFullSearch += 1
        var found: [(Int, DetectedFace)] = []
        for index in tracks.indices where tracks[index].active {
            let last = tracks[index].last
            let region = last.box.expanded(by: search.trackingMargin)
            let candidates = try detector.faces(in: image, region: region, searchSize: search.trackingSize)
            if let face = candidates.max(by: { $0.overlap(with: last) < $1.overlap(with: last) }), face.overlap(with: last) > 0.1 {
                update(index, with: face)
                found.append((tracks[index].id, face))
            } else {
                tracks[index].active = false
            }
        }
        return found
    }

    private func fullSearch(_ image: GrayImage) throws(VisionError) -> [(Int, DetectedFace)] {
        framesSinceFullSearch = 0
        let longerSide = max(image.width, image.height)
        // A whole frame is never enlarged: a small video is searched at its own size.
        var faces = try detector.faces(in: image, searchSize: min(search.coarseSize, longerSide))
        if faces.isEmpty, longerSide > search.coarseSize {
            if fineSearchFoundFaces || fineSearchCooldown == 0 {
                faces = try detector.faces(in: image, searchSize: min(search.fineSize, longerSide))
                if faces.isEmpty { fineSearchCooldown = search.fineRetryInterval } else { fineSearchFoundFaces = true }
            } else {
                fineSearchCooldown -= 1
            }
        }
        faces = Array(faces.sorted { $0.area > $1.area }.prefix(search.maximumTracks))
        for index in tracks.indices { tracks[index].active = false }
        var found: [(Int, DetectedFace)] = []
        for face in faces {
            let match = tracks.indices
                .filter { !tracks[$0].active && tracks[$0].last.overlap(with: face) >= search.matchOverlap }
                .max { tracks[$0].last.overlap(with: face) < tracks[$1].last.overlap(with: face) }
            if let match {
                update(match, with: face)
                found.append((tracks[match].id, face))
            } else {
                tracks.append(FaceTrack(id: nextID, last: face, active: true, areaSum: face.area))
                found.append((nextID, face))
                nextID += 1
            }
        }
        return found
    }

    private func update(_ index: Int, with face: DetectedFace) {
        tracks[index].last = face
        tracks[index].active = true
        tracks[index].areaSum += face.area
    }
}
