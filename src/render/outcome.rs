//! The words of apply's outcomes: why a change failed, was left, or is still settling, and
//! why a run stopped. They are these types' `Display`, so the report
//! ([`super::text::apply_report`]) and the audit log (JSON, built by apply as it goes) say the
//! same thing.
//!
//! Nothing is escaped here: server messages stay as they are in the audit log (JSON escapes
//! them), and the report escapes each line where it prints it.

use std::fmt::{self, Display, Formatter};

use crate::apply::{AuditBroken, Failure, Settling, Skip, Stop, Unverified};

impl Display for Failure {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Write(message) => f.write_str(message),
            Failure::Unverified(why) => why.fmt(f),
            Failure::NotReread(message) => write!(
                f,
                "cannot read it again after its folder changed ({message}); run plotward plan"
            ),
            Failure::Panicked(error) => write!(
                f,
                "internal error while writing ({error}); whether it was applied is unknown, run \
                 plotward plan"
            ),
            Failure::Lost => f.write_str("internal error: the write never reported"),
        }
    }
}

impl Display for Unverified {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Unverified::ReadsBack(level) => write!(f, "after the write the server reports {level}"),
            Unverified::Unreadable(error) => write!(f, "cannot read the file back: {error}"),
            Unverified::ShareKeyHidden => f.write_str("share key not visible yet; writing again"),
        }
    }
}

impl Display for Skip {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Skip::Stopped(stop) => stop.fmt(f),
            Skip::MaxWrites(cap) => write!(f, "--max-writes {cap} reached"),
            Skip::Unchecked(stop) => write!(f, "not read again after its folder changed: {stop}"),
        }
    }
}

impl Display for Stop {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Quota(message) => write!(f, "the API's daily limit is reached ({message})"),
            Stop::Unavailable(why) | Stop::ServerDown(why) | Stop::Halted(why) => f.write_str(why),
            Stop::Interrupted(Some(signal)) => write!(f, "interrupted by {signal}"),
            Stop::Interrupted(None) => f.write_str("interrupted"),
            Stop::AuditLog(broken) => broken.fmt(f),
        }
    }
}

impl Display for AuditBroken {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot write the audit log ({}); the run stopped, since writes that cannot be \
             recorded are not made",
            self.0
        )
    }
}

impl Display for Settling {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the secret link was written but did not read back as enabled within {}s (Chart \
             Studio enables share keys eventually); the file is not public. Run plotward plan \
             later to confirm, or raise --share-key-timeout",
            self.timeout.as_secs()
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::inventory::Sharing;

    #[test]
    fn failures_read_as_before() {
        let cases = [
            (Failure::Write("HTTP 500".into()), "HTTP 500"),
            (
                Failure::Unverified(Unverified::ReadsBack(Sharing::Public)),
                "after the write the server reports public",
            ),
            (
                Failure::Unverified(Unverified::Unreadable("timed out".into())),
                "cannot read the file back: timed out",
            ),
            (
                Failure::NotReread("HTTP 404".into()),
                "cannot read it again after its folder changed (HTTP 404); run plotward plan",
            ),
            (
                Failure::Panicked("task 7 panicked".into()),
                "internal error while writing (task 7 panicked); whether it was applied is \
                 unknown, run plotward plan",
            ),
            (Failure::Lost, "internal error: the write never reported"),
        ];
        for (failure, words) in cases {
            assert_eq!(failure.to_string(), words);
        }
    }

    #[test]
    fn skips_and_stops_read_as_before() {
        let broken = AuditBroken("No space left on device (os error 28)".into());
        let cases = [
            (Skip::MaxWrites(4), "--max-writes 4 reached".to_owned()),
            (
                Skip::Stopped(Stop::Quota("slow down".into())),
                "the API's daily limit is reached (slow down)".to_owned(),
            ),
            (
                Skip::Unchecked(Stop::Interrupted(Some("SIGTERM"))),
                "not read again after its folder changed: interrupted by SIGTERM".to_owned(),
            ),
            (
                Skip::Stopped(Stop::Halted("interrupted".into())),
                "interrupted".to_owned(),
            ),
            (
                Skip::Stopped(Stop::AuditLog(broken)),
                "cannot write the audit log (No space left on device (os error 28)); the run \
                 stopped, since writes that cannot be recorded are not made"
                    .to_owned(),
            ),
        ];
        for (skip, words) in cases {
            assert_eq!(skip.to_string(), words);
        }
    }

    #[test]
    fn settling_names_the_timeout() {
        let settling = Settling {
            timeout: Duration::from_secs(200),
        };
        assert_eq!(
            settling.to_string(),
            "the secret link was written but did not read back as enabled within 200s (Chart \
             Studio enables share keys eventually); the file is not public. Run plotward plan \
             later to confirm, or raise --share-key-timeout"
        );
    }
}
