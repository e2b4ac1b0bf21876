//! UTC calendar time from Unix time, for the timestamps Warden writes (RFC 3339 in
//! responses, the `x-amz-date` of AWS signatures). Howard Hinnant's days-to-civil algorithm.

/// A UTC instant split into its calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    /// Year.
    pub year: i64,
    /// Month, 1 to 12.
    pub month: i64,
    /// Day of the month, 1 to 31.
    pub day: i64,
    /// Hour, 0 to 23.
    pub hour: i64,
    /// Minute, 0 to 59.
    pub minute: i64,
    /// Second, 0 to 59.
    pub second: i64,
}

impl UtcTime {
    /// The calendar fields of `secs` seconds since 1970-01-01T00:00:00Z (negative: before).
    pub fn from_unix(secs: i64) -> Self {
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self { year, month, day, hour: rem / 3600, minute: rem % 3600 / 60, second: rem % 60 }
    }
}

#[cfg(test)]
mod tests {
    use super::UtcTime;

    #[test]
    fn known_instants() {
        let t = UtcTime::from_unix(951_782_400); // 2000-02-29
        assert_eq!((t.year, t.month, t.day, t.hour), (2000, 2, 29, 0));
        let t = UtcTime::from_unix(-1);
        assert_eq!((t.year, t.month, t.day, t.hour, t.minute, t.second), (1969, 12, 31, 23, 59, 59));
    }
}
