//! The nightly fuzz run as charts: for each cargo-fuzz target, execs/s, coverage and corpus size
//! over the run, read from libFuzzer's own log (its `#N … cov: C ft: F corp: K/S exec/s: E`
//! status lines and `-print_final_stats=1`'s `average_exec_per_sec`).

use serde::Serialize;

/// One status line of libFuzzer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub execs: u64,
    pub cov: u64,
    pub corpus: u64,
    pub exec_per_sec: u64,
}

/// What a log says: the status lines, and the final average.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FuzzLog {
    pub samples: Vec<Sample>,
    pub average_exec_per_sec: Option<u64>,
    pub crashed: bool,
}

fn field(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

pub fn parse(log: &str) -> FuzzLog {
    let mut out = FuzzLog::default();
    for line in log.lines() {
        if line.starts_with('#') && line.contains(" cov: ") {
            if let (Some(execs), Some(cov)) = (field(line, "#"), field(line, " cov: ")) {
                out.samples.push(Sample {
                    execs,
                    cov,
                    corpus: field(line, " corp: ").unwrap_or(0),
                    exec_per_sec: field(line, " exec/s: ").unwrap_or(0),
                });
            }
        } else if let Some(avg) = field(line, "average_exec_per_sec:") {
            out.average_exec_per_sec = Some(avg);
        } else if line.contains("ERROR: libFuzzer:") || line.contains("==ERROR:") {
            out.crashed = true;
        }
    }
    out
}

/// A small line chart: points already scaled into the SVG's box.
#[derive(Serialize, Debug)]
pub struct Chart {
    pub title: String,
    pub width: u64,
    pub height: u64,
    pub points: String,
    pub first: u64,
    pub last: u64,
    pub max: u64,
    /// The same series in words, for readers who cannot see the chart.
    pub summary: String,
}

#[derive(Serialize, Debug)]
pub struct FuzzTarget {
    pub name: String,
    pub execs: u64,
    pub exec_per_sec: Option<u64>,
    pub cov: u64,
    pub corpus_start: u64,
    pub corpus_end: u64,
    pub crashed: bool,
    pub charts: Vec<Chart>,
}

const W: u64 = 260;
const H: u64 = 70;

fn chart(title: &str, samples: &[Sample], value: impl Fn(&Sample) -> u64) -> Chart {
    let max_x = samples.iter().map(|s| s.execs).max().unwrap_or(0).max(1);
    let max_y = samples.iter().map(&value).max().unwrap_or(0).max(1);
    let points: Vec<String> = samples
        .iter()
        .map(|s| {
            let x = s.execs * (W - 4) / max_x + 2;
            let y = H - 2 - value(s) * (H - 4) / max_y;
            format!("{x},{y}")
        })
        .collect();
    let first = samples.first().map(&value).unwrap_or(0);
    let last = samples.last().map(&value).unwrap_or(0);
    Chart {
        title: title.to_owned(),
        width: W,
        height: H,
        points: points.join(" "),
        first,
        last,
        max: samples.iter().map(&value).max().unwrap_or(0),
        summary: format!(
            "{title}: from {first} to {last} (highest {}) over {} executions",
            samples.iter().map(&value).max().unwrap_or(0),
            samples.last().map_or(0, |s| s.execs)
        ),
    }
}

pub fn target(name: &str, log: &FuzzLog) -> FuzzTarget {
    let s = &log.samples;
    FuzzTarget {
        name: name.to_owned(),
        execs: s.last().map_or(0, |s| s.execs),
        exec_per_sec: log
            .average_exec_per_sec
            .or_else(|| s.last().map(|s| s.exec_per_sec)),
        cov: s.last().map_or(0, |s| s.cov),
        corpus_start: s.first().map_or(0, |s| s.corpus),
        corpus_end: s.last().map_or(0, |s| s.corpus),
        crashed: log.crashed,
        charts: vec![
            chart("coverage (edges)", s, |s| s.cov),
            chart("corpus (inputs)", s, |s| s.corpus),
            chart("execs/s", s, |s| s.exec_per_sec),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
INFO: Seed: 1
#2\tINITED cov: 120 ft: 130 corp: 8/1024b exec/s: 0 rss: 40Mb
#512\tNEW    cov: 140 ft: 160 corp: 9/1100b lim: 4 exec/s: 256 rss: 41Mb L: 10/10 MS: 1 ChangeBit-
#8192\tpulse  cov: 151 ft: 190 corp: 12/1.5Kb lim: 8 exec/s: 4096 rss: 42Mb
Done 9000 runs in 2 second(s)
stat::number_of_executed_units: 9000
stat::average_exec_per_sec:     4500
";

    #[test]
    fn status_lines_and_the_final_average_are_read() {
        let log = parse(LOG);
        assert_eq!(log.samples.len(), 3);
        assert_eq!(
            log.samples[2],
            Sample {
                execs: 8192,
                cov: 151,
                corpus: 12,
                exec_per_sec: 4096
            }
        );
        assert_eq!(log.average_exec_per_sec, Some(4500));
        assert!(!log.crashed);
        let t = target("lockstep", &log);
        assert_eq!((t.corpus_start, t.corpus_end, t.cov), (8, 12, 151));
        assert_eq!(t.charts[0].points.split(' ').count(), 3);
    }

    #[test]
    fn a_crash_is_noticed() {
        let log = parse(
            "#2 INITED cov: 1 ft: 1 corp: 1/1b exec/s: 0\n==123==ERROR: libFuzzer: deadly signal\n",
        );
        assert!(log.crashed);
    }
}
