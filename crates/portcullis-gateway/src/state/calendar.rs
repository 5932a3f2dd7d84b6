//! Calendar periods for quotas: day, ISO week (Monday first) and month, in UTC, at a fixed UTC
//! offset or in a named time zone (IANA, with daylight saving; the tz database is bundled). A
//! period has an id (part of the counter key, so a new period starts from zero) and an end (when
//! its counter expires): the next local midnight that starts a period.

/// A quota period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// A calendar day.
    Day,
    /// An ISO week, Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

/// Where periods start.
#[derive(Debug, Clone)]
pub enum Zone {
    /// A fixed offset, seconds east of UTC.
    Offset(i64),
    /// A named time zone.
    Named(jiff::tz::TimeZone),
}

/// Parses `UTC`, `+HH:MM`, `-HH:MM` or an IANA name such as `Europe/Paris`.
pub fn parse_zone(text: &str) -> Result<Zone, String> {
    let t = text.trim();
    if t.starts_with('+') || t.starts_with('-') || t.eq_ignore_ascii_case("utc") || t == "Z" {
        return parse_offset(t).map(Zone::Offset);
    }
    jiff::tz::TimeZone::get(t).map(Zone::Named).map_err(|_| {
        format!("time_zone {text:?}: not UTC, +HH:MM/-HH:MM or a known IANA time zone")
    })
}

/// Parses `UTC`, `Z`, `+HH:MM` or `-HH:MM` into seconds east of UTC.
pub fn parse_offset(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("utc") || t == "Z" {
        return Ok(0);
    }
    let err = || format!("time_zone {text:?}: write UTC, +HH:MM / -HH:MM or an IANA name");
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return Err(err()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(err)?;
    let (h, m): (i64, i64) = (h.parse().map_err(|_| err())?, m.parse().map_err(|_| err())?);
    if h > 14 || m > 59 {
        return Err(err());
    }
    Ok(sign * (h * 3600 + m * 60))
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The period containing `now` (Unix seconds) in `zone`: its id and its end (Unix seconds).
pub fn current_in(period: Period, now: i64, zone: &Zone) -> (String, i64) {
    let tz = match zone {
        Zone::Offset(offset) => return current(period, now, *offset),
        Zone::Named(tz) => tz,
    };
    // The local civil day, as a day number, then the same arithmetic as for offsets; the end is
    // the local midnight that starts the next period, resolved in the zone (DST included).
    let local = jiff::Timestamp::from_second(now)
        .map(|ts| ts.to_zoned_datetime(tz.clone()).date())
        .map(|d| {
            days_from_civil(
                i64::from(d.year()),
                i64::from(d.month()),
                i64::from(d.day()),
            )
        })
        .unwrap_or_else(|_| now.div_euclid(86_400));
    let (id, end_day) = period_of_day(period, local);
    let (y, m, d) = civil_from_days(end_day);
    let end = i16::try_from(y)
        .ok()
        .and_then(|y| jiff::civil::Date::new(y, m as i8, d as i8).ok())
        .and_then(|date| date.to_zoned_datetime(tz.clone()).ok())
        .map_or(end_day * 86_400, |z| z.timestamp().as_second());
    (id, end)
}

/// A period's id and the day number that follows it, for the day number `day`.
fn period_of_day(period: Period, day: i64) -> (String, i64) {
    match period {
        Period::Day => {
            let (y, m, d) = civil_from_days(day);
            (format!("{y:04}-{m:02}-{d:02}"), day + 1)
        }
        Period::Week => {
            let monday = day - (day + 3).rem_euclid(7);
            let (y, m, d) = civil_from_days(monday);
            (format!("week-of-{y:04}-{m:02}-{d:02}"), monday + 7)
        }
        Period::Month => {
            let (y, m, _) = civil_from_days(day);
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            (format!("{y:04}-{m:02}"), days_from_civil(ny, nm, 1))
        }
    }
}

/// The period containing `now` (Unix seconds) at a fixed `offset`: its id and its end.
pub fn current(period: Period, now: i64, offset: i64) -> (String, i64) {
    let day = (now + offset).div_euclid(86_400);
    let (id, end_day) = period_of_day(period, day);
    (id, end_day * 86_400 - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-23T22:30:00Z, a Monday.
    const NOW: i64 = 1_795_473_000;

    #[test]
    fn periods_follow_the_calendar() {
        assert_eq!(
            current(Period::Day, NOW, 0),
            ("2026-11-23".into(), 1_795_478_400)
        );
        // At +02:00 it is already the 24th.
        let (id, end) = current(Period::Day, NOW, 7200);
        assert_eq!(id, "2026-11-24");
        assert_eq!(end, 1_795_478_400 + 86_400 - 7200);
        assert_eq!(current(Period::Week, NOW, 0).0, "week-of-2026-11-23");
        assert_eq!(
            current(Period::Week, NOW - 86_400, 0).0,
            "week-of-2026-11-16",
            "Sunday"
        );
        let (id, end) = current(Period::Month, NOW, 0);
        assert_eq!(id, "2026-11");
        assert_eq!(end, days_from_civil(2026, 12, 1) * 86_400);
        assert_eq!(
            current(Period::Month, days_from_civil(2026, 12, 31) * 86_400, 0).1,
            days_from_civil(2027, 1, 1) * 86_400
        );
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn named_zones_follow_daylight_saving() {
        let paris = parse_zone("Europe/Paris").unwrap();
        // 2026-11-23T22:30Z is 23:30 in Paris (UTC+1 in winter): still the 23rd; it ends at
        // midnight Paris time, 23:00Z.
        assert_eq!(
            current_in(Period::Day, NOW, &paris),
            ("2026-11-23".into(), 1_795_474_800)
        );
        // 2026-03-29 has 23 hours in Paris: the day starting at 2026-03-29T00:00+01:00 ends at
        // 2026-03-30T00:00+02:00.
        let (id, end) = current_in(Period::Day, 1_774_742_400, &paris);
        assert_eq!(id, "2026-03-29");
        assert_eq!(end, 1_774_821_600);
        assert!(parse_zone("Mars/Olympus_Mons").is_err());
        assert!(matches!(parse_zone("UTC"), Ok(Zone::Offset(0))));
    }

    #[test]
    fn offsets_parse_or_say_why() {
        assert_eq!(parse_offset("UTC"), Ok(0));
        assert_eq!(parse_offset("+05:30"), Ok(19_800));
        assert_eq!(parse_offset("-08:00"), Ok(-28_800));
        assert!(parse_offset("Europe/Paris").is_err());
        assert!(parse_offset("+25:00").is_err());
    }
}
