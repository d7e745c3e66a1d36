//! Numbers the way people read them: durations, token counts, prices. Integer
//! arithmetic only, so the browser bundle carries no float formatting code.

use protocol::{Lang, Usage};

/// `850 ms`, `1.3 s`.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        let tenths = (ms + 50) / 100;
        format!("{}.{} s", tenths / 10, tenths % 10)
    }
}

/// `1,234,567` in English, `1.234.567` in Spanish.
pub fn count(lang: Lang, n: u64) -> String {
    let separator = match lang {
        Lang::En => ',',
        Lang::Es => '.',
    };
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(digit);
    }
    out
}

/// A price in US dollars: cents from a dollar up, four decimals below, `< $0.0001`
/// for a sliver.
pub fn usd(lang: Lang, cost: f64) -> String {
    if !cost.is_finite() || cost <= 0.0 {
        return "$0".into();
    }
    let point = match lang {
        Lang::En => '.',
        Lang::Es => ',',
    };
    // Hundredths of a cent.
    let units = (cost * 10_000.0).round() as u64;
    if units == 0 {
        return format!("< $0{point}0001");
    }
    if units >= 10_000 {
        let cents = (units + 50) / 100;
        return format!("${}{point}{:02}", count(lang, cents / 100), cents % 100);
    }
    format!("$0{point}{:04}", units)
}

/// `1,200 in · 34 out` (tokens), with the price when known.
pub fn usage(lang: Lang, usage: &Usage) -> String {
    let (input, output) = match lang {
        Lang::En => ("in", "out"),
        Lang::Es => ("de entrada", "de salida"),
    };
    let mut text = format!(
        "{} {input} · {} {output}",
        count(lang, usage.input_tokens),
        count(lang, usage.output_tokens)
    );
    if let Some(cost) = usage.cost_usd {
        text.push_str(" · ");
        text.push_str(&usd(lang, cost));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(12), "12 ms");
        assert_eq!(duration(999), "999 ms");
        assert_eq!(duration(1000), "1.0 s");
        assert_eq!(duration(1340), "1.3 s");
        assert_eq!(duration(1950), "2.0 s");
        assert_eq!(duration(61_000), "61.0 s");
    }

    #[test]
    fn counts_group_thousands_by_language() {
        assert_eq!(count(Lang::En, 0), "0");
        assert_eq!(count(Lang::En, 999), "999");
        assert_eq!(count(Lang::En, 1000), "1,000");
        assert_eq!(count(Lang::Es, 1_234_567), "1.234.567");
    }

    #[test]
    fn prices_keep_the_digits_that_matter() {
        assert_eq!(usd(Lang::En, 0.0123), "$0.0123");
        assert_eq!(usd(Lang::En, 0.00004), "< $0.0001");
        assert_eq!(usd(Lang::En, 1.234), "$1.23");
        assert_eq!(usd(Lang::Es, 1234.5), "$1.234,50");
        assert_eq!(usd(Lang::En, 0.0), "$0");
        assert_eq!(usd(Lang::En, f64::NAN), "$0");
    }

    #[test]
    fn usage_lines() {
        let used = Usage {
            input_tokens: 1200,
            output_tokens: 34,
            cost_usd: None,
        };
        assert_eq!(usage(Lang::En, &used), "1,200 in · 34 out");
        let priced = Usage {
            cost_usd: Some(0.5),
            ..used
        };
        assert_eq!(
            usage(Lang::Es, &priced),
            "1.200 de entrada · 34 de salida · $0,5000"
        );
    }
}
