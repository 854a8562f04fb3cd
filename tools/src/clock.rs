//! `clock`: the current date and time in a time zone, and date arithmetic.

use std::time::Duration;

use argus_core::{Tool, ToolContext, ToolPolicy};
use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Error;

/// Arguments of [`Clock`]. With none, it tells the current time in UTC.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockArgs {
    /// IANA time zone to read and show times in, e.g. `Europe/Paris`; default `UTC`.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Start from this date-time instead of now: RFC 3339 (`2024-05-01T12:00:00+02:00`),
    /// or `2024-05-01 12:00` / `2024-05-01` in `timezone`.
    #[serde(default)]
    pub at: Option<String>,
    /// Calendar days to add (negative to subtract); keeps the local time across DST changes.
    #[serde(default)]
    pub add_days: Option<i64>,
    /// Hours to add (negative to subtract).
    #[serde(default)]
    pub add_hours: Option<i64>,
    /// Minutes to add (negative to subtract).
    #[serde(default)]
    pub add_minutes: Option<i64>,
    /// Also tell how long it is from the result to this date-time (same formats as `at`).
    #[serde(default)]
    pub until: Option<String>,
}

/// A point in time as [`Clock`] reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockReading {
    /// RFC 3339 date-time with the zone's offset.
    pub datetime: String,
    /// The IANA time zone.
    pub timezone: String,
    /// Local date, `YYYY-MM-DD`.
    pub date: String,
    /// Local time, `HH:MM:SS`.
    pub time: String,
    /// Day of the week, e.g. `Monday`.
    pub weekday: String,
    /// Seconds since the Unix epoch.
    pub unix: i64,
    /// The difference to `until`, when asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Difference>,
}

/// The time from one date-time to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// The later point, RFC 3339 in the same zone.
    pub datetime: String,
    /// Signed seconds from the first to the second (negative when the second is earlier).
    pub total_seconds: i64,
    /// Signed difference of the local calendar dates, in days.
    pub calendar_days: i64,
    /// The difference in words, e.g. `2 days, 3 hours and 4 minutes later`.
    pub text: String,
}

/// Current date and time, and date arithmetic, in any IANA time zone.
///
/// ```
/// use argus_tools::{Clock, ClockArgs};
/// use chrono::{TimeZone, Utc};
///
/// let clock = Clock::fixed(Utc.with_ymd_and_hms(2024, 3, 30, 12, 0, 0).unwrap());
/// let args = ClockArgs {
///     timezone: Some("Europe/Paris".into()),
///     add_days: Some(1),
///     ..ClockArgs::default()
/// };
/// let reading = clock.read(&args).unwrap();
/// assert_eq!(reading.datetime, "2024-03-31T13:00:00+02:00"); // across the DST change
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    fixed_now: Option<DateTime<Utc>>,
}

impl Clock {
    /// A clock reading the system time.
    pub fn new() -> Self {
        Clock::default()
    }

    /// A clock stopped at `now`: for tests and replays.
    pub fn fixed(now: DateTime<Utc>) -> Self {
        Clock {
            fixed_now: Some(now),
        }
    }

    /// What the clock's "now" is.
    pub fn now(&self) -> DateTime<Utc> {
        self.fixed_now.unwrap_or_else(Utc::now)
    }

    /// Answers `args` without the registry.
    pub fn read(&self, args: &ClockArgs) -> Result<ClockReading, Error> {
        let tz = parse_timezone(args.timezone.as_deref())?;
        let start = match &args.at {
            Some(text) => parse_datetime(text, tz)?,
            None => self.now().with_timezone(&tz),
        };
        let shifted = shift(start, args)?;
        let mut reading = reading(shifted);
        if let Some(text) = &args.until {
            let target = parse_datetime(text, tz)?;
            reading.until = Some(difference(shifted, target));
        }
        Ok(reading)
    }
}

impl Tool for Clock {
    const NAME: &'static str = "clock";
    type Args = ClockArgs;
    type Output = ClockReading;
    type Error = Error;

    fn description(&self) -> String {
        "Tells the current date and time in a time zone, adds or subtracts days, hours and \
         minutes to a date-time, and tells the time between two date-times."
            .into()
    }

    async fn call(&self, args: ClockArgs, _ctx: ToolContext) -> Result<ClockReading, Error> {
        self.read(&args)
    }

    fn policy(&self) -> ToolPolicy {
        ToolPolicy::read_only().with_timeout(Duration::from_secs(1))
    }
}

fn parse_timezone(name: Option<&str>) -> Result<Tz, Error> {
    let Some(name) = name.map(str::trim).filter(|name| !name.is_empty()) else {
        return Ok(Tz::UTC);
    };
    if name.eq_ignore_ascii_case("utc") || name.eq_ignore_ascii_case("z") {
        return Ok(Tz::UTC);
    }
    name.parse::<Tz>()
        .map_err(|_| Error::UnknownTimeZone(name.to_string()))
}

fn parse_datetime(text: &str, tz: Tz) -> Result<DateTime<Tz>, Error> {
    let trimmed = text.trim();
    if let Ok(datetime) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(datetime.with_timezone(&tz));
    }
    let naive = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(trimmed, format).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(trimmed, "%Y-%m-%d")
            .ok()
            .and_then(|date| date.and_hms_opt(0, 0, 0))
    })
    .ok_or_else(|| Error::InvalidDateTime(text.to_string()))?;
    tz.from_local_datetime(&naive).earliest().ok_or_else(|| {
        Error::DateOutOfRange(format!(
            "{naive} does not exist in {tz} (the clocks skip it for daylight saving time)"
        ))
    })
}

fn shift(start: DateTime<Tz>, args: &ClockArgs) -> Result<DateTime<Tz>, Error> {
    let out_of_range =
        || Error::DateOutOfRange("the date arithmetic leaves the supported range".into());
    let mut datetime = start;
    if let Some(days) = args.add_days.filter(|&days| days != 0) {
        let magnitude = Days::new(days.unsigned_abs());
        datetime = if days > 0 {
            datetime.checked_add_days(magnitude)
        } else {
            datetime.checked_sub_days(magnitude)
        }
        .ok_or_else(out_of_range)?;
    }
    let hours = args.add_hours.unwrap_or(0);
    let minutes = args.add_minutes.unwrap_or(0);
    let delta = TimeDelta::try_hours(hours)
        .zip(TimeDelta::try_minutes(minutes))
        .and_then(|(h, m)| h.checked_add(&m))
        .ok_or_else(out_of_range)?;
    datetime.checked_add_signed(delta).ok_or_else(out_of_range)
}

fn reading(datetime: DateTime<Tz>) -> ClockReading {
    ClockReading {
        datetime: datetime.to_rfc3339(),
        timezone: datetime.timezone().name().to_string(),
        date: datetime.format("%Y-%m-%d").to_string(),
        time: datetime.format("%H:%M:%S").to_string(),
        weekday: datetime.format("%A").to_string(),
        unix: datetime.timestamp(),
        until: None,
    }
}

fn difference(from: DateTime<Tz>, to: DateTime<Tz>) -> Difference {
    let total_seconds = to.timestamp() - from.timestamp();
    let calendar_days = (to.date_naive() - from.date_naive()).num_days();
    Difference {
        datetime: to.to_rfc3339(),
        total_seconds,
        calendar_days,
        text: describe(total_seconds),
    }
}

/// `93784` → `1 day, 2 hours, 3 minutes and 4 seconds later`.
fn describe(total_seconds: i64) -> String {
    if total_seconds == 0 {
        return "the same time".into();
    }
    let seconds = total_seconds.unsigned_abs();
    let parts: Vec<String> = [
        (seconds / 86_400, "day"),
        (seconds % 86_400 / 3_600, "hour"),
        (seconds % 3_600 / 60, "minute"),
        (seconds % 60, "second"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, unit)| format!("{n} {unit}{}", if *n == 1 { "" } else { "s" }))
    .collect();
    let joined = match parts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => parts.join(""),
    };
    let direction = if total_seconds > 0 {
        "later"
    } else {
        "earlier"
    };
    format!("{joined} {direction}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::{ToolCall, ToolRegistry};
    use serde_json::json;

    fn clock() -> Clock {
        Clock::fixed(Utc.with_ymd_and_hms(2024, 5, 1, 12, 30, 0).unwrap())
    }

    fn read(args: serde_json::Value) -> Result<ClockReading, Error> {
        clock().read(&serde_json::from_value(args).unwrap())
    }

    #[test]
    fn now_in_a_time_zone() {
        let utc = read(json!({})).unwrap();
        assert_eq!(utc.datetime, "2024-05-01T12:30:00+00:00");
        assert_eq!(utc.timezone, "UTC");
        assert_eq!(utc.weekday, "Wednesday");
        assert_eq!(utc.unix, 1_714_566_600);

        let tokyo = read(json!({"timezone": "Asia/Tokyo"})).unwrap();
        assert_eq!(tokyo.date, "2024-05-01");
        assert_eq!(tokyo.time, "21:30:00");
        assert_eq!(tokyo.datetime, "2024-05-01T21:30:00+09:00");

        let ny = read(json!({"timezone": "America/New_York"})).unwrap();
        assert_eq!(ny.datetime, "2024-05-01T08:30:00-04:00");
    }

    #[test]
    fn arithmetic() {
        let later = read(json!({"add_days": 30, "add_hours": -2, "add_minutes": 45})).unwrap();
        assert_eq!(later.datetime, "2024-05-31T11:15:00+00:00");

        let earlier = read(json!({"at": "2024-03-01", "add_days": -1})).unwrap();
        assert_eq!(earlier.date, "2024-02-29");

        // Calendar days keep the local time across the DST change; hours do not.
        let paris = json!({"timezone": "Europe/Paris", "at": "2024-03-30 12:00"});
        let mut by_day = paris.clone();
        by_day["add_days"] = json!(1);
        assert_eq!(read(by_day).unwrap().datetime, "2024-03-31T12:00:00+02:00");
        let mut by_hours = paris;
        by_hours["add_hours"] = json!(24);
        assert_eq!(
            read(by_hours).unwrap().datetime,
            "2024-03-31T13:00:00+02:00"
        );

        let offset = read(json!({"at": "2024-05-01T10:00:00+02:00", "timezone": "UTC"})).unwrap();
        assert_eq!(offset.time, "08:00:00");
    }

    #[test]
    fn difference_between_dates() {
        let reading = read(json!({"at": "2024-01-01", "until": "2024-12-25 18:30"})).unwrap();
        let until = reading.until.unwrap();
        assert_eq!(until.calendar_days, 359);
        assert_eq!(until.total_seconds, 359 * 86_400 + 18 * 3_600 + 30 * 60);
        assert_eq!(until.text, "359 days, 18 hours and 30 minutes later");

        let back = read(json!({"until": "2024-05-01T12:29:59Z"}))
            .unwrap()
            .until
            .unwrap();
        assert_eq!(back.total_seconds, -1);
        assert_eq!(back.text, "1 second earlier");
        assert_eq!(describe(0), "the same time");
        assert_eq!(describe(3_660), "1 hour and 1 minute later");
    }

    #[test]
    fn bad_inputs() {
        assert!(matches!(
            read(json!({"timezone": "Mars/Olympus"})),
            Err(Error::UnknownTimeZone(_))
        ));
        assert!(matches!(
            read(json!({"at": "next tuesday"})),
            Err(Error::InvalidDateTime(_))
        ));
        assert!(matches!(
            read(json!({"at": "2024-02-30"})),
            Err(Error::InvalidDateTime(_))
        ));
        assert!(matches!(
            read(json!({"add_days": i64::MAX})),
            Err(Error::DateOutOfRange(_))
        ));
        assert!(matches!(
            read(json!({"add_hours": i64::MIN})),
            Err(Error::DateOutOfRange(_))
        ));
        // 02:30 does not exist in Paris on the night clocks go forward.
        let gap = read(json!({"timezone": "Europe/Paris", "at": "2024-03-31 02:30"}));
        assert!(matches!(gap, Err(Error::DateOutOfRange(message)) if message.contains("daylight")));
    }

    #[tokio::test]
    async fn through_the_registry() {
        let mut tools = ToolRegistry::new();
        tools.register(clock()).unwrap();
        let call = ToolCall::new("clock", json!({"timezone": "Asia/Kolkata"}));
        let output = tools
            .call(&call, ToolContext::new("c"))
            .await
            .result
            .unwrap();
        let reading: ClockReading = serde_json::from_str(&output.text).unwrap();
        assert_eq!(reading.time, "18:00:00");
        assert!(Clock::new().now() > clock().now());
    }
}
