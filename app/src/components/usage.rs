//! The conversation's token totals (and cost, when the server prices them).

use leptos::prelude::*;

use crate::{
    format,
    i18n::{Text, t},
    pages::chat::Actions,
};

#[component]
pub fn UsageTotal() -> impl IntoView {
    let state = expect_context::<Actions>().state();
    let lang = state.lang;
    let usage = Memo::new(move |_| state.conversation.with(|c| c.usage));
    move || {
        usage
            .get()
            .filter(|u| !u.is_empty() || u.cost_usd.is_some())
            .map(|usage| {
                view! {
                    <p class="usage-total" data-kind="usage-total">
                        {t(lang, Text::Total)} ": tokens " {format::usage(lang, &usage)}
                    </p>
                }
            })
    }
}
