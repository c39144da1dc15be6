//! The Activity tab: the workspace's ledger, newest first, a page at a time.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use dwb_core::paging::Page;
use dwb_core::policy::Action;
use dwb_store::Event;
use serde::Deserialize;

use crate::error::PageError;
use crate::portal::session::SignedIn;
use crate::portal::views::{render, show_time, ActivityPage, EventRow, WsView};
use crate::portal::workspaces::open;
use crate::state::AppState;

const PAGE_SIZE: i64 = 25;

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    page: Option<String>,
}

/// "MemberRoleChanged" → "Member role changed".
pub fn humanize(event_name: &str) -> String {
    let mut out = String::new();
    for (i, c) in event_name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn row(e: &Event) -> EventRow {
    let mut what = humanize(&e.action);
    if let Some(role) = e.detail.get("role").and_then(|v| v.as_str()) {
        what.push_str(&format!(" (role {role})"));
    }
    // What a CSV file brought into a data set.
    let writes = ["DatasetCreated", "DatasetAppended", "DatasetOverwritten"];
    if let (Some(rows), true) = (
        e.detail.get("rows").and_then(|v| v.as_i64()),
        writes.contains(&e.action.as_str()),
    ) {
        let s = if rows == 1 { "" } else { "s" };
        what.push_str(&format!(" ({rows} row{s} written)"));
    }
    EventRow {
        when: show_time(e.at),
        who: e.principal_name.clone(),
        kind: e.principal_kind.replace('_', " "),
        what,
        resource: format!("{} {}", e.resource_kind.replace('_', " "), e.resource_name),
        outcome: e.outcome.clone(),
    }
}

pub async fn tab(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let o = open(&state, &who, &id, Action::ViewLedger).await?;
    let index = q
        .page
        .as_deref()
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(1);
    let page = Page::parse(Some(index.max(1)), Some(PAGE_SIZE))
        .map_err(|e| PageError::BadRequest(e.to_string()))?;
    let (events, total) = state.store.workspace_events(o.ws.id, page).await?;
    Ok(render(&ActivityPage {
        nav: who.nav(),
        ws: WsView::from(o.ws.as_ref()),
        tab: "activity",
        ws_admin: o.role == dwb_core::validate::Role::Admin,
        events: events.iter().map(row).collect(),
        page: page.index,
        total_pages: page.total_pages(total).max(1),
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn humanize_splits_words() {
        assert_eq!(super::humanize("MemberRoleChanged"), "Member role changed");
        assert_eq!(super::humanize("SignedIn"), "Signed in");
    }
}
