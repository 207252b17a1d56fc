//! A hybrid logical clock: stamps that order changes across devices even when a device's
//! wall clock is wrong, so every node settles a same-field conflict the same way.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// One stamp: wall time in milliseconds, a counter for events within the same millisecond,
/// and the node that made it as the final tie-breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    pub millis: u64,
    pub counter: u32,
    pub node: Uuid,
}

impl fmt::Display for Stamp {
    /// Fixed-width text that sorts like the stamp itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:015}-{:06}-{}",
            self.millis,
            self.counter,
            self.node.simple()
        )
    }
}

/// A text that is not a stamp.
#[derive(Debug, thiserror::Error)]
#[error("not a clock stamp")]
pub struct BadStamp;

impl FromStr for Stamp {
    type Err = BadStamp;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.splitn(3, '-');
        let millis = parts.next().and_then(|p| p.parse().ok()).ok_or(BadStamp)?;
        let counter = parts.next().and_then(|p| p.parse().ok()).ok_or(BadStamp)?;
        let node = parts
            .next()
            .and_then(|p| Uuid::parse_str(p).ok())
            .ok_or(BadStamp)?;
        Ok(Self {
            millis,
            counter,
            node,
        })
    }
}

/// The clock of one node.
#[derive(Debug)]
pub struct Clock {
    node: Uuid,
    last: Option<Stamp>,
}

impl Clock {
    /// A clock for `node` that never goes back behind `last`.
    pub fn new(node: Uuid, last: Option<Stamp>) -> Self {
        Self { node, last }
    }

    /// A stamp for a local event at wall time `now`, later than every stamp seen so far.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Stamp {
        let wall = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        let stamp = match self.last {
            Some(last) if last.millis >= wall => Stamp {
                millis: last.millis,
                counter: last.counter + 1,
                node: self.node,
            },
            _ => Stamp {
                millis: wall,
                counter: 0,
                node: self.node,
            },
        };
        self.last = Some(stamp);
        stamp
    }

    /// Takes in a stamp from another node so later local stamps sort after it.
    pub fn observe(&mut self, remote: Stamp) {
        if self.last.is_none_or(|last| remote > last) {
            self.last = Some(Stamp {
                node: self.node,
                ..remote
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn stamps_increase_even_when_the_wall_clock_goes_back() {
        let mut clock = Clock::new(Uuid::now_v7(), None);
        let first = clock.tick(Utc.timestamp_millis_opt(10_000).unwrap());
        let second = clock.tick(Utc.timestamp_millis_opt(5_000).unwrap());
        assert!(second > first);
    }

    #[test]
    fn a_remote_stamp_pushes_the_local_clock_forward() {
        let mut clock = Clock::new(Uuid::now_v7(), None);
        let remote = Stamp {
            millis: 99_000,
            counter: 3,
            node: Uuid::now_v7(),
        };
        clock.observe(remote);
        assert!(clock.tick(Utc.timestamp_millis_opt(1_000).unwrap()) > remote);
    }

    #[test]
    fn text_form_sorts_like_the_stamp_and_reads_back() {
        let node = Uuid::now_v7();
        let a = Stamp {
            millis: 9,
            counter: 10,
            node,
        };
        let b = Stamp {
            millis: 10,
            counter: 0,
            node,
        };
        assert!(a.to_string() < b.to_string());
        assert_eq!(a.to_string().parse::<Stamp>().unwrap(), a);
    }
}
