//! Request counts and latency histograms by method, matched route and
//! status, rendered in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

type Key = (String, String, u16);

#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<Key, Histogram>>,
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The methods counted by name; any other (a client may send any token as a
/// method) is counted as "other", so that clients cannot grow the series.
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
];

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let method = METHODS
            .iter()
            .find(|m| **m == method)
            .copied()
            .unwrap_or("other");
        let mut map = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let h = map
            .entry((method.to_string(), route.to_string(), status))
            .or_default();
        h.count += 1;
        h.sum += seconds;
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
    }

    /// The HTTP series, then `values`: (name, type, help, value) of
    /// gauges and counters kept elsewhere.
    pub fn render_with(&self, values: &[(&str, &str, &str, u64)]) -> String {
        let mut out = self.render();
        for (name, kind, help, value) in values {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }

    pub fn render(&self) -> String {
        let map = self
            .series
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut out = String::new();
        out.push_str(
            "# HELP dwb_http_requests_total HTTP requests by method, matched route and status.\n",
        );
        out.push_str("# TYPE dwb_http_requests_total counter\n");
        for ((m, r, s), h) in &map {
            let _ = writeln!(
                out,
                "dwb_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{s}\"}} {}",
                label(m),
                label(r),
                h.count
            );
        }
        out.push_str("# HELP dwb_http_request_duration_seconds Time to answer HTTP requests.\n");
        out.push_str("# TYPE dwb_http_request_duration_seconds histogram\n");
        for ((m, r, s), h) in &map {
            let labels = format!(
                "method=\"{}\",route=\"{}\",status=\"{s}\"",
                label(m),
                label(r)
            );
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "dwb_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "dwb_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "dwb_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "dwb_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_buckets() {
        let m = Metrics::default();
        m.observe("GET", "/healthz", 200, 0.002);
        m.observe("GET", "/healthz", 200, 0.2);
        let text = m.render();
        assert!(text.contains(
            "dwb_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"
        ));
        assert!(text.contains("le=\"0.0025\"} 1"));
        assert!(text.contains("le=\"+Inf\"} 2"));
    }

    #[test]
    fn made_up_methods_share_one_series() {
        let m = Metrics::default();
        for i in 0..1000 {
            m.observe(&format!("M{i}"), "unmatched", 405, 0.001);
        }
        m.observe("GET", "unmatched", 404, 0.001);
        let series = m.series.lock().map(|s| s.len()).unwrap_or(0);
        assert_eq!(series, 2);
        assert!(m.render().contains(
            "dwb_http_requests_total{method=\"other\",route=\"unmatched\",status=\"405\"} 1000"
        ));
    }
}
