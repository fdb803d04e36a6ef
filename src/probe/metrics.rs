//! The probe's metrics in the Prometheus text format (OpenMetrics, by `prometheus-client`):
//! success per flow, latency per operation, requests, rounds, divergences and when the last one
//! was, and the model coverage reached. Served at `GET /metrics` on `--metrics ADDR`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

type Labels = Vec<(&'static str, String)>;

/// Every metric of the probe, and the registry that encodes them.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    pub success: Family<Labels, Gauge>,
    pub latency: Family<Labels, Histogram, fn() -> Histogram>,
    pub requests: Counter,
    pub rounds: Counter,
    pub divergences: Counter,
    pub errors: Counter,
    pub last_divergence: Gauge<f64, AtomicU64>,
    pub coverage_pairs: Gauge,
    pub coverage_ratio: Gauge<f64, AtomicU64>,
}

fn latency_histogram() -> Histogram {
    // 1 ms to ~16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let success = Family::<Labels, Gauge>::default();
        let latency: Family<Labels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        let requests = Counter::default();
        let rounds = Counter::default();
        let divergences = Counter::default();
        let errors = Counter::default();
        let last_divergence = Gauge::<f64, AtomicU64>::default();
        let coverage_pairs = Gauge::default();
        let coverage_ratio = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "probe_success",
            "1 if the flow's last run matched the model in every step, else 0",
            success.clone(),
        );
        registry.register(
            "probe_latency_seconds",
            "Time from sending a request to its answer, per operation",
            latency.clone(),
        );
        registry.register("probe_requests", "Requests sent", requests.clone());
        registry.register("probe_rounds", "Rounds run", rounds.clone());
        registry.register(
            "probe_divergences",
            "Answers the model did not allow",
            divergences.clone(),
        );
        registry.register(
            "probe_errors",
            "Flows cut short because the service could not be reached or answered outside its API",
            errors.clone(),
        );
        registry.register(
            "probe_last_divergence_timestamp_seconds",
            "Unix time of the last divergence (0: none yet)",
            last_divergence.clone(),
        );
        registry.register(
            "probe_model_coverage_pairs",
            "Operation-outcome pairs of the protocol table the probe has seen",
            coverage_pairs.clone(),
        );
        registry.register(
            "probe_model_coverage_ratio",
            "Those pairs over the pairs in scope for the target and profile",
            coverage_ratio.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            success,
            latency,
            requests,
            rounds,
            divergences,
            errors,
            last_divergence,
            coverage_pairs,
            coverage_ratio,
        }
    }
}

impl Metrics {
    /// The text exposition (what `GET /metrics` answers).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    pub fn flow_success(&self, flow: &str, ok: bool) {
        self.success
            .get_or_create(&vec![("flow", flow.to_owned())])
            .set(i64::from(ok));
    }

    pub fn observe_latency(&self, op: &str, seconds: f64) {
        self.latency
            .get_or_create(&vec![("op", op.to_owned())])
            .observe(seconds);
    }

    /// Serves `GET /metrics` on `addr` until the process ends; returns the bound address.
    pub fn serve(&self, addr: std::net::SocketAddr) -> Result<std::net::SocketAddr, String> {
        let listener =
            std::net::TcpListener::bind(addr).map_err(|e| format!("--metrics {addr}: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        let metrics = self.clone();
        std::thread::Builder::new()
            .name("probe-metrics".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the metrics endpoint");
                rt.block_on(async move {
                    let app = axum::Router::new().route(
                        "/metrics",
                        axum::routing::get(move || {
                            let body = metrics.encode();
                            async move {
                                (
                                    [(
                                        axum::http::header::CONTENT_TYPE,
                                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                                    )],
                                    body,
                                )
                            }
                        }),
                    );
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("the bound listener");
                    let _ = axum::serve(listener, app).await;
                });
            })
            .map_err(|e| e.to_string())?;
        Ok(bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_metric() {
        let m = Metrics::default();
        m.flow_success("logout", false);
        m.observe_latency("Refresh", 0.004);
        m.requests.inc();
        let text = m.encode();
        for name in [
            "probe_success{flow=\"logout\"} 0",
            "probe_latency_seconds_bucket{le=\"0.004\",op=\"Refresh\"} 1",
            "probe_requests_total 1",
            "probe_divergences_total 0",
            "probe_last_divergence_timestamp_seconds 0",
            "probe_model_coverage_ratio",
            "# EOF",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}
