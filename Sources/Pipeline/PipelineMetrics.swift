import CoreMetrics
import Emotion
import Foundation

/// The metrics the pipeline's services record through swift-metrics (no-ops until a backend is bootstrapped; the
/// executables bootstrap Prometheus when given `--metrics-address`). Names and labels are listed in
/// `docs/deployment.md` ("Metrics").
enum PipelineMetrics {
    /// A worker finished a job: `er_jobs_total{stream, outcome, error}` (outcome `done`, `absent` or `failed`, error
    /// the failure kind or `none`) and `er_job_stage_seconds{stream, stage}` for each timed stage.
    static func jobFinished(_ result: ResultMessage) {
        let outcome = switch result.outcome {
        case .ok: "done"
        case .absent: "absent"
        case .failed: "failed"
        }
        Counter(label: "er_jobs_total", dimensions: [("stream", result.stream.rawValue), ("outcome", outcome),
                                                      ("error", result.error?.code ?? "none")]).increment()
        for (stage, seconds) in result.timings where seconds.isFinite && seconds >= 0 {
            Timer(label: "er_job_stage_seconds", dimensions: [("stream", result.stream.rawValue), ("stage", stage)])
                .recordNanoseconds(Int64(seconds * 1e9))
        }
    }

    /// A job came again after a lost connection or a worker's death: `er_jobs_redelivered_total{stream}`.
    static func jobRedelivered(_ stream: StreamKind) {
        Counter(label: "er_jobs_redelivered_total", dimensions: [("stream", stream.rawValue)]).increment()
    }

    /// Jobs held (received, not yet acknowledged): `er_jobs_in_flight{stream}`. Made once per worker loop.
    static func jobsInFlight(stream: StreamKind) -> Gauge {
        Gauge(label: "er_jobs_in_flight", dimensions: [("stream", stream.rawValue)])
    }

    /// A service connected to the broker again after losing it: `er_broker_reconnects_total{service}`.
    static func brokerReconnected(service: String) {
        Counter(label: "er_broker_reconnects_total", dimensions: [("service", service)]).increment()
    }

    /// Fusion stored a stream result: `er_results_total{stream, outcome}` (`ok`, `absent`, `failed`, or `stale` for
    /// a result of an older attempt), `er_fused_total{basis}` when it fused the clip, and the transaction's duration
    /// in `er_db_transaction_seconds`.
    static func resultStored(_ result: ResultMessage, decision: ClipDecision?, stored: Bool, seconds: Double) {
        Counter(label: "er_results_total", dimensions: [("stream", result.stream.rawValue),
                                                         ("outcome", stored ? result.outcome.rawValue : "stale")]).increment()
        if case .fused(let fused)? = decision {
            Counter(label: "er_fused_total", dimensions: [("basis", fused.basis.rawValue)]).increment()
        }
        Timer(label: "er_db_transaction_seconds").recordNanoseconds(Int64(seconds * 1e9))
    }

    /// The feeder published jobs: `er_feeder_jobs_published_total{stream}`.
    static func jobsFed(_ count: Int, stream: StreamKind) {
        Counter(label: "er_feeder_jobs_published_total", dimensions: [("stream", stream.rawValue)]).increment(by: count)
    }
}
