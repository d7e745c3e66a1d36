//! Token usage of model calls and what it costs: the providers' counts become a
//! [`Usage`] on each reply, the price table (`LLM_PRICE_INPUT_PER_MTOK`,
//! `LLM_PRICE_OUTPUT_PER_MTOK`) turns tokens into US dollars.

pub use protocol::Usage;

/// US dollars per million tokens, read and written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

impl Prices {
    /// What `input_tokens` read and `output_tokens` written cost, in US dollars.
    pub fn cost(&self, input_tokens: u64, output_tokens: u64) -> f64 {
        // Exact in f64 for any token count a conversation can reach (< 2^53).
        (input_tokens as f64 * self.input_per_mtok + output_tokens as f64 * self.output_per_mtok)
            / 1e6
    }

    /// `usage` with its cost set from its tokens.
    pub fn price(&self, usage: Usage) -> Usage {
        Usage {
            cost_usd: Some(self.cost(usage.input_tokens, usage.output_tokens)),
            ..usage
        }
    }
}

/// A usage of these token counts, without a cost. Counts a provider reports as
/// negative (Bedrock's are signed) read as zero.
pub fn tokens(input: impl TryInto<u64>, output: impl TryInto<u64>) -> Usage {
    Usage {
        input_tokens: input.try_into().unwrap_or(0),
        output_tokens: output.try_into().unwrap_or(0),
        cost_usd: None,
    }
}

/// Adds `more` (one model call's usage, if it reported any) to `total`.
pub fn accumulate(total: &mut Option<Usage>, more: Option<Usage>) {
    if let Some(more) = more {
        total.get_or_insert_with(Usage::default).add(&more);
    }
}

/// Reads a price per million tokens: a finite, non-negative number of US dollars.
pub fn parse_price(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(price) if price.is_finite() && price >= 0.0 => Ok(price),
        _ => Err(format!(
            "{text:?} is not a price: give US dollars per million tokens, e.g. 3 or 0.25"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_follow_the_price_table() {
        let prices = Prices {
            input_per_mtok: 3.0,
            output_per_mtok: 15.0,
        };
        // 1,234 × $3 + 56 × $15 per million tokens.
        let cost = prices.cost(1234, 56);
        assert!((cost - 0.004542).abs() < 1e-12, "{cost}");
        assert_eq!(prices.cost(0, 0), 0.0);
        let priced = prices.price(tokens(1_000_000u64, 0u64));
        assert_eq!(priced.cost_usd, Some(3.0));
        assert_eq!(priced.input_tokens, 1_000_000);
    }

    #[test]
    fn usage_adds_up_only_when_reported() {
        let mut total = None;
        accumulate(&mut total, None);
        assert_eq!(total, None, "no report, no usage");
        accumulate(&mut total, Some(tokens(100, 5)));
        accumulate(&mut total, None);
        accumulate(&mut total, Some(tokens(20i32, 7i32)));
        assert_eq!(total, Some(tokens(120u64, 12u64)));
        assert_eq!(tokens(-1i32, 3i32), tokens(0u64, 3u64));
    }

    #[test]
    fn prices_must_be_non_negative_numbers() {
        assert_eq!(parse_price(" 2.5 "), Ok(2.5));
        assert_eq!(parse_price("0"), Ok(0.0));
        for bad in ["-1", "NaN", "inf", "", "three"] {
            assert!(parse_price(bad).is_err(), "{bad}");
        }
    }
}
