//! Numbers as the protocol shows them.

/// Formats a tool's numeric result the way the protocol shows it: whole numbers without
/// a fractional part (`15`, not `15.0`), others in their shortest exact form (`2.5`).
pub fn format_number(value: f64) -> String {
    // 2^53: beyond it not every integer is representable, so `as i64` would mislead.
    const MAX_EXACT: f64 = 9_007_199_254_740_992.0;
    if value.fract() == 0.0 && value.abs() < MAX_EXACT {
        // Exact: the value is a whole number within i64's exactly representable range.
        let whole = value as i64;
        if whole == 0 {
            // Avoids "-0" for negative zero.
            return "0".to_owned();
        }
        whole.to_string()
    } else {
        value.to_string()
    }
}
