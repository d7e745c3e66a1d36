//! What a user may send as a question, checked the same way for every transport.

use protocol::ErrorCode;

/// Checks a question's content: not empty, not longer than `max_chars`. Returns it
/// trimmed, or the error code and a message safe to show.
pub fn question(content: &str, max_chars: usize) -> Result<&str, (ErrorCode, String)> {
    let content = content.trim();
    if content.is_empty() {
        return Err((ErrorCode::InvalidMessage, "the message is empty".into()));
    }
    if content.chars().count() > max_chars {
        return Err((
            ErrorCode::TooLarge,
            format!("the message is longer than {max_chars} characters"),
        ));
    }
    Ok(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_bounds() {
        assert_eq!(question("  hola ", 10), Ok("hola"));
        assert_eq!(
            question("   ", 10).unwrap_err().0,
            ErrorCode::InvalidMessage
        );
        assert_eq!(question("ñññ", 2).unwrap_err().0, ErrorCode::TooLarge);
        assert_eq!(question("ñññ", 3), Ok("ñññ"));
    }
}
