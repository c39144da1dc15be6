//! Data sets in the portal, in a real headless Chromium, by the words a person
//! sees: "Import CSV" with its progress bar (the upload slowed down so that the
//! bar can be watched), files rejected with the line and column of the bad
//! value (the form keeps what was typed), and a data set's page: its facts,
//! the paged table, the column picker, a filter, sorting, "Save as new data
//! set", what a derived data set is based on, and Add rows / Replace rows.
//! Screenshots go to `test-artifacts/screenshots/<test>-<backend>-<step>.png`.

// Setting up the browser may fail loudly: a test has nothing better to do.
#![allow(clippy::expect_used)]

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dwb_store::{Backend, Store};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::Locator;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::browser::{button_xpath, in_browser, xpath_literal, Browser, PATIENCE, POLL};
use crate::helpers::{spawn_app, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::on_both_stores;

/// The description and tags typed when Readings is imported.
const DESCRIPTION: &str = "Sensor readings, one a minute";
const TAGS: &str = "site=Oslo, vessel=Aurora";
/// How the data set's page shows those tags.
const TAGS_SHOWN: &str = "site: Oslo; vessel: Aurora";
/// The choice of the Schema field that lets dwb infer the schema.
const INFER: &str = "Infer from the header and first rows";

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

/// Import CSV: 2,000 rows with an inferred schema, the progress bar while the
/// file goes up, the new data set in the catalogue; then files with a bad
/// value are rejected with the line and column, and nothing is created.
async fn an_admin_imports_a_csv_file_and_a_bad_file_is_rejected(backend: Backend) {
    let app = spawn_app(backend).await;
    let files = CsvFiles::new();
    let readings = files.write("readings.csv", &readings_csv(2000, None));
    // With the schema of Readings chosen, line 7 holds a value that is not a number.
    let bad_line_7 = files.write("bad-line-7.csv", &readings_csv(10, Some((7, "abc"))));
    // With an inferred schema: the bad value lies past the first 64 KiB that
    // inference reads, so the column is taken as a number and line 2900 fails.
    let bad_late = files.write("bad-late.csv", &readings_csv(3000, Some((2900, "n/a"))));
    let more = files.write("more.csv", &readings_csv(1500, None));
    let wrong = files.write("wrong.csv", &wrong_csv(100_000));
    let store = app.store.clone();
    let ws = app.demo.id;
    let test = "an_admin_imports_a_csv_file_and_a_bad_file_is_rejected";
    in_browser(test, &app, |b| async move {
        let t = Steps(b);
        t.open_catalogue().await;
        t.expect_text("No data sets yet. Import a CSV file with the form below")
            .await;
        t.shot("01-empty-catalogue").await;

        t.fill_import_form("Readings", DESCRIPTION, TAGS, INFER, &readings)
            .await;
        t.shot("02-import-form-filled").await;
        t.upload_watching_the_progress_bar("Import", "03-uploading")
            .await;
        t.expect_data_set_heading("Readings").await;
        t.expect_fact("Rows", "2000").await;
        t.expect_fact("Kind", "Base").await;
        t.expect_fact("Tags", TAGS_SHOWN).await;
        t.expect_text(DESCRIPTION).await;
        t.shot("04-imported").await;

        t.click_tab("Data catalogue").await;
        let catalogue = t
            .table_when(CATALOGUE, "the catalogue listing Readings", |t| {
                row_named(t, "Readings").is_some()
            })
            .await;
        let row = row_named(&catalogue, "Readings").unwrap_or_default();
        t.check(
            cell(&catalogue, &row, "Rows") == "2000"
                && cell(&catalogue, &row, "Kind") == "Base"
                && cell(&catalogue, &row, "Description") == DESCRIPTION
                && cell(&catalogue, &row, "Schema").starts_with("Readings ("),
            &format!("Readings with 2000 rows in the catalogue, not {row:?}"),
        )
        .await;
        t.check(
            catalogue.len() == 2,
            &format!("one data set in the catalogue, not {catalogue:?}"),
        )
        .await;
        t.shot("05-catalogue").await;

        // A bad value under the chosen schema of Readings: the line, the column,
        // the type; the form keeps what was typed and chosen.
        let schema = t.option_starting("Schema", "Readings (").await;
        t.fill_import_form(
            "Bad readings",
            "Ten, one bad",
            "site=Bergen",
            &schema,
            &bad_line_7,
        )
        .await;
        t.click_button("Import").await;
        t.expect_text("The file was rejected; nothing was imported.")
            .await;
        t.expect_text("line 7, column value: 'abc' is not a Double")
            .await;
        t.expect_alert_saying("line 7, column value: 'abc' is not a Double")
            .await;
        t.expect_no_text("first 20 problems").await;
        let kept = (
            t.value_by_label("Name").await,
            t.value_by_label("Description").await,
            t.value_by_label("Tags").await,
            t.selected_by_label("Schema").await,
        );
        t.check(
            kept == (
                "Bad readings".into(),
                "Ten, one bad".into(),
                "site=Bergen".into(),
                schema.clone(),
            ),
            &format!("the form to keep what was typed and chosen, not {kept:?}"),
        )
        .await;
        let after = t
            .table_when(CATALOGUE, "the catalogue below the error", |_| true)
            .await;
        t.check(
            after == catalogue,
            &format!("the catalogue unchanged after the rejection, not {after:?}"),
        )
        .await;
        t.shot("06-rejected-line-7").await;

        // With an inferred schema, a bad value after the sampled head is still caught.
        t.fill_import_form("Late surprise", "", "", INFER, &bad_late)
            .await;
        t.click_button("Import").await;
        t.expect_text("line 2900, column value: 'n/a' is not a Double")
            .await;
        t.expect_no_text("line 7").await;
        t.shot("07-rejected-line-2900").await;

        // A large file that is wrong from its first line: dwb stops reading
        // after 20 problems, and the person still gets them.
        let schema = t.option_starting("Schema", "Readings (").await;
        t.fill_import_form("Wrong file", "", "", &schema, &wrong)
            .await;
        t.click_button("Import").await;
        t.expect_text("The file was rejected; nothing was imported.")
            .await;
        t.expect_text("The first 20 problems:").await;
        t.expect_alert_saying("line 2, column time: 'yesterday' is not a DateTime")
            .await;
        t.expect_alert_saying("line 11, column value: 'lots' is not a Double")
            .await;
        t.shot("08-rejected-wrong-file").await;

        // Reloading the catalogue shows nothing new.
        t.click_tab("Data catalogue").await;
        t.expect_no_text("The file was rejected").await;
        let reloaded = t
            .table_when(CATALOGUE, "the catalogue after a reload", |_| true)
            .await;
        t.check(
            reloaded == catalogue,
            &format!("no data set created by the rejected files, not {reloaded:?}"),
        )
        .await;

        // The form below a rejection still uploads with its progress bar.
        let schema = t.option_starting("Schema", "Readings (").await;
        t.fill_import_form("Bad readings", "", "", &schema, &bad_line_7)
            .await;
        t.click_button("Import").await;
        t.expect_text("The file was rejected").await;
        let schema = t.option_starting("Schema", "Readings (").await;
        t.fill_import_form("More readings", "Fifteen hundred more", "", &schema, &more)
            .await;
        // (The error box goes as the upload starts; the helper checks it.)
        t.upload_watching_the_progress_bar("Import", "09-uploading-after-rejection")
            .await;
        t.expect_data_set_heading("More readings").await;
        t.expect_fact("Rows", "1500").await;
        t.expect_fact("Tags", "None").await;
        t.shot("10-imported-after-rejection").await;

        // Import clicked twice in a row makes one data set. (The second
        // click may find the button disabled or the page already gone.)
        t.click_tab("Data catalogue").await;
        t.fill_import_form("Twice", "", "", INFER, &readings).await;
        let import = t
            .the_one(&button_xpath("Import"), "the button \"Import\"")
            .await;
        t.click(import.clone(), "the button \"Import\"").await;
        let _ = import.click().await;
        t.expect_data_set_heading("Twice").await;
        t.expect_fact("Rows", "2000").await;
        tokio::time::sleep(Duration::from_secs(3)).await;

        // Back in the browser, the catalogue's form is ready for the next file.
        t.client.back().await.expect("the browser goes back");
        t.expect_text("Import CSV").await;
        let import = t
            .the_one(&button_xpath("Import"), "the button \"Import\"")
            .await;
        t.check(
            import.is_enabled().await.unwrap_or(false),
            "Import to be enabled after going back",
        )
        .await;

        let names: Vec<String> = store
            .datasets(ws)
            .await
            .expect("the data sets of Demo")
            .into_iter()
            .map(|d| d.name)
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        t.check(
            sorted == ["More readings", "Readings", "Twice"],
            &format!("only the accepted files to be data sets, not {names:?}"),
        )
        .await;
    })
    .await;
}
on_both_stores!(an_admin_imports_a_csv_file_and_a_bad_file_is_rejected);

/// A data set's page: description, schema columns, tags and row count; the
/// paged table, the column picker, a filter, sorting, and "Save as new data
/// set" making a derived data set of exactly the filtered rows and columns.
async fn a_data_set_page_pages_picks_columns_filters_sorts_and_saves_a_view(backend: Backend) {
    let app = spawn_app(backend).await;
    let files = CsvFiles::new();
    let readings = files.write("readings.csv", &readings_csv(2000, None));
    let test = "a_data_set_page_pages_picks_columns_filters_sorts_and_saves_a_view";
    in_browser(test, &app, |b| async move {
        let t = Steps(b);
        t.open_catalogue().await;
        t.fill_import_form("Readings", DESCRIPTION, TAGS, INFER, &readings)
            .await;
        t.click_button("Import").await;
        t.expect_data_set_heading("Readings").await;

        // The facts and the schema's columns.
        t.expect_text(DESCRIPTION).await;
        t.expect_fact("Kind", "Base").await;
        t.expect_fact("Rows", "2000").await;
        t.expect_fact("Tags", TAGS_SHOWN).await;
        let schema = t.fact("Schema").await;
        t.check(
            schema.starts_with("Readings (") && schema.ends_with("(Version 1)"),
            &format!("the inferred schema's name and version, not {schema:?}"),
        )
        .await;
        let columns = t.table_when(COLUMNS, "the columns", |_| true).await;
        t.check(
            columns
                == [
                    ["Name", "Type", "Required", "Filterable", "Sortable"],
                    ["time", "DateTime", "no", "yes", "yes"],
                    ["channel", "String", "no", "yes", "yes"],
                    ["value", "Double", "no", "yes", "yes"],
                ],
            &format!("the inferred columns, not {columns:?}"),
        )
        .await;

        // The first page of rows, then the next one.
        t.expect_pager("Page 1 of 40 (2000 rows)").await;
        let first = t.table_when(ROWS, "the first page", |_| true).await;
        t.check(
            first.len() == 51 && first[0] == ["time", "channel", "value"],
            &format!("50 rows of time, channel and value, not {first:?}"),
        )
        .await;
        t.expect_no_link("Previous").await;
        t.shot("01-data-set").await;
        t.click_link("Next").await;
        t.expect_pager("Page 2 of 40 (2000 rows)").await;
        let second = t.table_when(ROWS, "the second page", |_| true).await;
        t.check(
            second.len() == 51 && second[1..].iter().all(|r| !first[1..].contains(r)),
            &format!("50 other rows on page 2, not {second:?}"),
        )
        .await;
        t.expect_link("Previous").await;
        t.shot("02-page-2").await;

        // The column picker: hide "time".
        t.untick_column("time").await;
        t.click_button("Apply").await;
        t.table_when(ROWS, "the table without time", |t| {
            t[0] == ["channel", "value"]
        })
        .await;
        t.expect_pager("Page 1 of 40 (2000 rows)").await;
        t.shot("03-time-hidden").await;

        // A filter: channel equals C, a quarter of the rows.
        t.choose_by_label("Filter column", "channel").await;
        t.fill_by_label("equals", "C").await;
        t.click_button("Apply").await;
        t.expect_pager("Page 1 of 10 (500 rows)").await;
        let only_c = t
            .table_when(ROWS, "the rows of channel C", |t| {
                t[0] == ["channel", "value"]
            })
            .await;
        t.check(
            only_c.len() == 51 && only_c[1..].iter().all(|r| r[0] == "C"),
            &format!("50 rows of channel C without time, not {only_c:?}"),
        )
        .await;
        t.shot("04-filtered").await;

        // Sorting by value: once ascending, once more descending; the filter stays.
        t.click_link("value").await;
        let up = t
            .table_when(ROWS, "sorted by value, ascending", |t| {
                t[0] == ["channel", "value ▲"]
            })
            .await;
        t.check(
            up.get(1).is_some_and(|r| r == &["C", "0.2"]),
            &format!("the smallest value of channel C first, not {:?}", up.get(1)),
        )
        .await;
        t.click_link("value ▲").await;
        let down = t
            .table_when(ROWS, "sorted by value, descending", |t| {
                t[0] == ["channel", "value ▼"]
            })
            .await;
        t.check(
            values(&down, 1) == descending(199.8, 50),
            &format!("the values of channel C from 199.8 down, not {down:?}"),
        )
        .await;
        t.expect_pager("Page 1 of 10 (500 rows)").await;
        t.shot("05-sorted-descending").await;
        t.click_link("Next").await;
        t.expect_pager("Page 2 of 10 (500 rows)").await;
        let next = t
            .table_when(ROWS, "page 2 sorted descending", |t| {
                t[0] == ["channel", "value ▼"]
            })
            .await;
        t.check(
            values(&next, 1) == descending(179.8, 50),
            &format!("page 2 to go on from 179.8 down, not {next:?}"),
        )
        .await;
        t.shot("06-sorted-page-2").await;

        // Hiding the filtered column keeps the filter, shown as it is, and the
        // data set's columns stay listed under "Columns".
        t.untick_column("channel").await;
        t.click_button("Apply").await;
        t.table_when(ROWS, "only the value column", |t| t[0] == ["value ▼"])
            .await;
        t.expect_pager("Page 1 of 10 (500 rows)").await;
        let filter = t.selected_by_label("Filter column").await;
        let equals = t.value_by_label("equals").await;
        t.check(
            filter == "channel" && equals == "C",
            &format!("the filter channel equals C still shown, not {filter:?} equals {equals:?}"),
        )
        .await;
        let columns = t.table_when(COLUMNS, "the columns", |_| true).await;
        let names: Vec<&str> = columns[1..].iter().map(|r| r[0].as_str()).collect();
        t.check(
            names == ["time", "channel", "value"],
            &format!("all columns of Readings listed, not {names:?}"),
        )
        .await;
        t.shot("07-filtered-column-hidden").await;
        t.tick_column("channel").await;
        t.click_button("Apply").await;
        t.table_when(ROWS, "channel shown again", |t| {
            t[0] == ["channel", "value ▼"]
        })
        .await;
        t.expect_pager("Page 1 of 10 (500 rows)").await;

        // Save as new data set: the filter and the shown columns.
        t.fill_by_label("New data set name", "Channel C").await;
        t.click_button("Save as new data set").await;
        t.expect_data_set_heading("Channel C").await;
        t.expect_fact("Kind", "Derived").await;
        t.expect_fact("Rows", "500").await;
        t.expect_text("Saved from Readings").await;
        t.expect_pager("Page 1 of 10 (500 rows)").await;
        let derived = t
            .table_when(ROWS, "the rows of Channel C", |t| {
                t[0] == ["channel", "value"]
            })
            .await;
        t.check(
            derived.len() == 51 && derived[1..].iter().all(|r| r[0] == "C"),
            &format!("only channel and value of channel C, not {derived:?}"),
        )
        .await;
        let columns = t.table_when(COLUMNS, "the columns", |_| true).await;
        let names: Vec<&str> = columns[1..].iter().map(|r| r[0].as_str()).collect();
        t.check(
            names == ["channel", "value"],
            &format!("the derived data set to have channel and value, not {names:?}"),
        )
        .await;
        t.expect_no_column_choice("time").await;
        // What it is based on, its saved filter in words, and its columns.
        t.expect_fact("Based on", "Readings").await;
        t.expect_fact("Filters", "channel equals C").await;
        t.expect_fact("Columns", "channel, value").await;
        t.expect_no_button("Add rows").await;
        t.expect_no_button("Replace rows").await;
        t.shot("08-derived").await;
        t.click_link("Readings").await;
        t.expect_data_set_heading("Readings").await;
        t.expect_fact("Derived data sets", "Channel C").await;
        t.expect_link("Channel C").await;

        t.click_tab("Data catalogue").await;
        let catalogue = t
            .table_when(CATALOGUE, "the catalogue with both", |t| {
                row_named(t, "Channel C").is_some()
            })
            .await;
        let base = row_named(&catalogue, "Readings").unwrap_or_default();
        let view = row_named(&catalogue, "Channel C").unwrap_or_default();
        t.check(
            cell(&catalogue, &base, "Rows") == "2000"
                && cell(&catalogue, &view, "Rows") == "500"
                && cell(&catalogue, &view, "Kind") == "Derived",
            &format!("Readings (2000 rows) and Channel C (500, derived), not {catalogue:?}"),
        )
        .await;
        t.shot("09-catalogue").await;
    })
    .await;
}
on_both_stores!(a_data_set_page_pages_picks_columns_filters_sorts_and_saves_a_view);

/// Add rows and Replace rows on a base data set's page: each with its
/// progress bar and a notice with the new row count; a rejected file changes
/// nothing; a replace with a schema version that lacks a column a derived
/// data set uses is refused, one that keeps its columns is taken; each write
/// is in the Activity tab with the rows it wrote.
async fn an_admin_adds_and_replaces_the_rows_of_a_data_set(backend: Backend) {
    let app = spawn_app(backend).await;
    let files = CsvFiles::new();
    let readings = files.write("readings.csv", &readings_csv(2000, None));
    let more = files.write("more.csv", &readings_csv(1500, None));
    let bad_line_7 = files.write("bad-line-7.csv", &readings_csv(10, Some((7, "abc"))));
    let without_channel = files.write("no-channel.csv", &units_csv(12, false));
    let with_units = files.write("with-units.csv", &units_csv(1200, true));
    let store = app.store.clone();
    let ws = app.demo.id;
    let test = "an_admin_adds_and_replaces_the_rows_of_a_data_set";
    in_browser(test, &app, |b| async move {
        let t = Steps(b);
        t.open_catalogue().await;
        t.fill_import_form("Readings", DESCRIPTION, TAGS, INFER, &readings)
            .await;
        t.click_button("Import").await;
        t.expect_data_set_heading("Readings").await;
        t.expect_fact("Rows", "2000").await;
        t.expect_fact("Derived data sets", "None").await;
        t.the_one(
            "//h3[normalize-space()='Add or replace rows']",
            "the heading \"Add or replace rows\"",
        )
        .await;
        t.shot("01-base-data-set").await;

        // Add rows: 1500 more, with the progress bar.
        t.choose_file("CSV file of rows to add", &more).await;
        t.upload_watching_the_progress_bar("Add rows", "02-adding")
            .await;
        t.expect_text("Added 1500 rows; Readings now has 3500 rows.")
            .await;
        t.expect_fact("Rows", "3500").await;
        t.expect_pager("Page 1 of 70 (3500 rows)").await;
        t.shot("03-rows-added").await;

        // A rejected file: its problems by line and column, and nothing changes.
        t.choose_file("CSV file of rows to add", &bad_line_7).await;
        t.click_button("Add rows").await;
        t.expect_text("The file was rejected; no rows were added.")
            .await;
        t.expect_alert_saying("line 7, column value: 'abc' is not a Double")
            .await;
        t.expect_fact("Rows", "3500").await;
        t.expect_pager("Page 1 of 70 (3500 rows)").await;
        t.shot("04-rejected").await;

        // A derived data set of channel C, which needs the column channel.
        t.choose_by_label("Filter column", "channel").await;
        t.fill_by_label("equals", "C").await;
        t.click_button("Apply").await;
        t.expect_pager("Page 1 of 18 (875 rows)").await;
        t.fill_by_label("New data set name", "Channel C").await;
        t.click_button("Save as new data set").await;
        t.expect_data_set_heading("Channel C").await;
        t.expect_fact("Based on", "Readings").await;
        t.click_link("Readings").await;
        t.expect_fact("Derived data sets", "Channel C").await;

        // Two more schemas: one without channel, one that keeps every column.
        t.create_schema("Units", "time, DateTime\nvalue, Double\nunit, String")
            .await;
        t.create_schema(
            "Readings with units",
            "time, DateTime\nchannel, String\nvalue, Double\nunit, String",
        )
        .await;
        t.click_tab("Data catalogue").await;
        t.click_link("Readings").await;
        t.expect_data_set_heading("Readings").await;
        let keep = t.option_starting("Schema version", "Keep Readings (").await;
        t.check(
            t.selected_by_label("Schema version").await == keep,
            &format!("Replace rows to keep the schema version by default ({keep:?})"),
        )
        .await;

        // Said no to the question: nothing goes up.
        let question = "Replace all 3500 rows of Readings with the rows of the file?";
        t.choose_file("CSV file of the new rows", &more).await;
        t.click_button("Replace rows").await;
        t.expect_dialog(question).await;
        t.answer_dialog(false).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        t.expect_fact("Rows", "3500").await;
        t.expect_no_text("Replaced the rows").await;

        // A version without channel: refused, naming the derived data set.
        t.choose_by_label("Schema version", "Units – Version 1")
            .await;
        t.choose_file("CSV file of the new rows", &without_channel)
            .await;
        t.click_button("Replace rows").await;
        t.expect_dialog(question).await;
        t.answer_dialog(true).await;
        t.expect_text(
            "Rows not replaced: the derived data set 'Channel C' would no longer work with \
             this schema version (it uses column 'channel', which this version lacks); \
             delete it or choose a version that keeps its columns.",
        )
        .await;
        t.expect_fact("Rows", "3500").await;
        let schema = t.fact("Schema").await;
        t.check(
            schema.starts_with("Readings (") && schema.ends_with("(Version 1)"),
            &format!("the schema unchanged, not {schema:?}"),
        )
        .await;
        let chosen = t.selected_by_label("Schema version").await;
        t.check(
            chosen == "Units – Version 1",
            &format!("the chosen version kept, not {chosen:?}"),
        )
        .await;
        t.shot("05-replace-refused").await;

        // A version that keeps channel and value: the rows and columns are replaced.
        t.choose_by_label("Schema version", "Readings with units – Version 1")
            .await;
        t.choose_file("CSV file of the new rows", &with_units).await;
        t.upload_watching("Replace rows", Some(question), "06-replacing")
            .await;
        t.expect_text(
            "Replaced the rows of Readings with the file's 1200 rows; \
             its schema is now Readings with units (Version 1).",
        )
        .await;
        t.expect_fact("Rows", "1200").await;
        t.expect_fact("Schema", "Readings with units (Version 1)")
            .await;
        t.expect_pager("Page 1 of 24 (1200 rows)").await;
        let columns = t.table_when(COLUMNS, "the columns", |_| true).await;
        let names: Vec<&str> = columns[1..].iter().map(|r| r[0].as_str()).collect();
        t.check(
            names == ["time", "channel", "value", "unit"],
            &format!("the columns of Readings with units, not {names:?}"),
        )
        .await;
        let keep = t.selected_by_label("Schema version").await;
        t.check(
            keep == "Keep Readings with units – Version 1",
            &format!("the new version to be the one kept, not {keep:?}"),
        )
        .await;
        t.shot("07-rows-replaced").await;

        // The derived data set follows: a quarter of the new rows.
        t.click_link("Channel C").await;
        t.expect_pager("Page 1 of 6 (300 rows)").await;
        t.expect_fact("Schema", "Readings with units (Version 1)")
            .await;

        // The ledger: each write with the rows it wrote.
        t.click_tab("Activity").await;
        t.expect_text("Dataset overwritten (1200 rows written)")
            .await;
        t.expect_text("Dataset appended (1500 rows written)").await;
        t.expect_text("Dataset created (2000 rows written)").await;
        t.shot("08-activity").await;

        let events = store
            .workspace_events(
                ws,
                dwb_core::paging::Page::parse(Some(1), Some(100)).unwrap(),
            )
            .await
            .expect("the ledger of Demo")
            .0;
        let writes: Vec<(String, i64)> = events
            .iter()
            .filter(|e| e.action == "DatasetAppended" || e.action == "DatasetOverwritten")
            .map(|e| (e.action.clone(), e.detail["rows"].as_i64().unwrap_or(-1)))
            .collect();
        t.check(
            writes
                == [
                    ("DatasetOverwritten".to_string(), 1200),
                    ("DatasetAppended".to_string(), 1500),
                ],
            &format!("one event per accepted write, newest first, not {writes:?}"),
        )
        .await;
    })
    .await;
}
on_both_stores!(an_admin_adds_and_replaces_the_rows_of_a_data_set);

// ---------------------------------------------------------------------------
// CSV files
// ---------------------------------------------------------------------------

/// A scratch folder for the CSV files a test uploads; removed on drop.
struct CsvFiles(PathBuf);

impl CsvFiles {
    fn new() -> CsvFiles {
        let dir = std::env::temp_dir()
            .join("dwb-tests")
            .join(format!("csv-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("a folder for the CSV files");
        CsvFiles(dir)
    }

    /// Writes `text` as `name`; its absolute path.
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("the CSV file");
        path
    }
}

impl Drop for CsvFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `rows` readings of time,channel,value: one a minute from 2026-01-01,
/// channels A, B, C, D in turn, values 0.0, 0.1, 0.2, … With `bad`, the value
/// on that line (the header is line 1) is replaced by the given text.
fn readings_csv(rows: usize, bad: Option<(usize, &str)>) -> String {
    let mut out = String::from("time,channel,value\n");
    for i in 0..rows {
        let (day, hour, minute) = (1 + i / 1440, (i / 60) % 24, i % 60);
        let channel = ["A", "B", "C", "D"][i % 4];
        let value = match bad {
            Some((line, text)) if line == i + 2 => text.to_string(),
            _ => format!("{}.{}", i / 10, i % 10),
        };
        out.push_str(&format!(
            "2026-01-{day:02}T{hour:02}:{minute:02}:00Z,{channel},{value}\n"
        ));
    }
    out
}

/// `rows` readings as [`readings_csv`] makes them with a unit ("C") last;
/// without the channel when `channel` is false.
fn units_csv(rows: usize, channel: bool) -> String {
    let mut out = String::new();
    for (i, line) in readings_csv(rows, None).lines().enumerate() {
        let mut cells: Vec<&str> = line.split(',').collect();
        if !channel {
            cells.remove(1);
        }
        cells.push(if i == 0 { "unit" } else { "C" });
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// `rows` lines of time,channel,value in which no time and no value is one.
fn wrong_csv(rows: usize) -> String {
    let mut out = String::from("time,channel,value\n");
    for _ in 0..rows {
        out.push_str("yesterday,A,lots\n");
    }
    out
}

/// `n` values shown with one decimal, from `top` down in steps of 0.4 (every
/// fourth reading belongs to the same channel).
fn descending(top: f64, n: usize) -> Vec<String> {
    (0..n)
        .map(|k| format!("{:.1}", top - 0.4 * k as f64))
        .collect()
}

/// The texts of column `c` below the header row.
fn values(table: &[Vec<String>], c: usize) -> Vec<String> {
    table[1..]
        .iter()
        .map(|r| r.get(c).cloned().unwrap_or_default())
        .collect()
}

// ---------------------------------------------------------------------------
// Tables as a person reads them
// ---------------------------------------------------------------------------

const CATALOGUE: &str = "//table[caption[starts-with(normalize-space(), 'Data sets of ')]]";
const ROWS: &str = "//table[caption[starts-with(normalize-space(), 'Rows of ')]]";
const COLUMNS: &str = "//section[h3[normalize-space()='Columns']]//table";
const TABS: &str = "//nav[@aria-label='Workspace']";

/// The row of `table` (header row first) whose first cell reads `name`.
fn row_named(table: &[Vec<String>], name: &str) -> Option<Vec<String>> {
    table[1..]
        .iter()
        .find(|r| r.first().is_some_and(|c| c == name))
        .cloned()
}

/// The cell of `row` under the header `header`.
fn cell(table: &[Vec<String>], row: &[String], header: &str) -> String {
    table
        .first()
        .and_then(|h| h.iter().position(|c| c == header))
        .and_then(|i| row.get(i))
        .cloned()
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// What these tests add to `Browser`
// ---------------------------------------------------------------------------

struct Steps(Browser);

impl Deref for Steps {
    type Target = Browser;
    fn deref(&self) -> &Browser {
        &self.0
    }
}

/// A Chrome DevTools command, sent through chromedriver's own endpoint.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &reqwest::Url,
        session: Option<&str>,
    ) -> Result<reqwest::Url, <reqwest::Url as std::str::FromStr>::Err> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (reqwest::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (reqwest::Method::POST, Some(body.to_string()))
    }
}

impl Steps {
    async fn cdp(&self, cmd: &'static str, params: Value) {
        if let Err(e) = self.client.issue_cmd(Cdp { cmd, params }).await {
            panic!(
                "{}",
                self.report(&format!("the DevTools command {cmd} failed: {e}"))
                    .await
            );
        }
    }

    /// Uploads leave the browser at `bytes_per_second` (`None`: at full speed).
    async fn limit_uploads(&self, bytes_per_second: Option<u32>) {
        let upload = bytes_per_second.map_or(-1, i64::from);
        self.cdp("Network.enable", json!({})).await;
        self.cdp(
            "Network.emulateNetworkConditions",
            json!({
                "offline": false,
                "latency": 0,
                "downloadThroughput": -1,
                "uploadThroughput": upload,
            }),
        )
        .await;
    }

    /// Signs in as the admin and opens the Data catalogue of Demo.
    async fn open_catalogue(&self) {
        self.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        self.click_link("Demo").await;
        self.expect_heading_starting("Demo").await;
        self.click_tab("Data catalogue").await;
        self.the_one(
            "//h2[normalize-space()='Import CSV']",
            "the heading \"Import CSV\"",
        )
        .await;
    }

    async fn click_tab(&self, name: &str) {
        let what = format!("the tab {name:?}");
        let xpath = format!("{TABS}//a[normalize-space()={}]", xpath_literal(name));
        let a = self.the_one(&xpath, &what).await;
        self.click(a, &what).await;
    }

    /// Fills the "Import CSV" form; `schema` is the text of a Schema choice.
    async fn fill_import_form(
        &self,
        name: &str,
        description: &str,
        tags: &str,
        schema: &str,
        file: &Path,
    ) {
        self.fill_by_label("Name", name).await;
        self.fill_by_label("Description", description).await;
        self.fill_by_label("Tags", tags).await;
        self.choose_by_label("Schema", schema).await;
        self.choose_file("CSV file", file).await;
    }

    /// Chooses `file` in the file field labelled `label`.
    async fn choose_file(&self, label: &str, file: &Path) {
        let input = self.field_by_label(label).await;
        if let Err(e) = input.send_keys(&file.display().to_string()).await {
            panic!(
                "{}",
                self.report(&format!("cannot choose the file {}: {e}", file.display()))
                    .await
            );
        }
    }

    /// Creates a schema in the Schemas tab from `name, type` lines.
    async fn create_schema(&self, name: &str, lines: &str) {
        self.click_tab("Schemas").await;
        self.fill_by_label("Name", name).await;
        self.fill_by_label("Columns", lines).await;
        self.click_button("Create schema").await;
        self.expect_text(&format!("Created the schema {name}."))
            .await;
    }

    /// The text of the one choice of the select `label` that starts with `prefix`.
    async fn option_starting(&self, label: &str, prefix: &str) -> String {
        let select = self.field_by_label(label).await;
        let texts = self
            .client
            .execute(
                "return Array.from(arguments[0].options).map(o => o.textContent.trim());",
                vec![serde_json::to_value(&select).unwrap_or(Value::Null)],
            )
            .await;
        let texts: Vec<String> = match texts {
            Ok(v) => serde_json::from_value(v).unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let found: Vec<&String> = texts.iter().filter(|t| t.starts_with(prefix)).collect();
        match found.as_slice() {
            [one] => one.to_string(),
            _ => panic!(
                "{}",
                self.report(&format!(
                    "one choice starting with {prefix:?} in {label:?}, not {texts:?}"
                ))
                .await
            ),
        }
    }

    /// Clicks the upload button `button` (Import, Add rows, Replace rows) with
    /// uploads slowed down, accepts its question if it asks one, and watches
    /// the progress bar of its form until the browser loads the answer; all
    /// the while the button must be disabled and no error box be shown.
    async fn upload_watching_the_progress_bar(&self, button: &str, step: &str) {
        self.upload_watching(button, None, step).await;
    }

    /// Like [`Steps::upload_watching_the_progress_bar`], answering OK to the
    /// question `confirm` first.
    async fn upload_watching(&self, button: &str, confirm: Option<&str>, step: &str) {
        let what = format!("the button {button:?}");
        // Gone once the browser leaves this page for the answer.
        self.client
            .execute("window.dwbBeforeUpload = true;", vec![])
            .await
            .expect("a mark on the page");
        let still_here = || async {
            self.client
                .execute("return window.dwbBeforeUpload === true;", vec![])
                .await
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false)
        };
        self.limit_uploads(Some(16 * 1024)).await;
        self.click_button(button).await;
        if let Some(question) = confirm {
            self.expect_dialog(question).await;
            self.answer_dialog(true).await;
        }
        let bar = format!("({})/ancestor::form[1]//progress", button_xpath(button));
        let alerts = "//*[@role='alert']";
        let deadline = Instant::now() + PATIENCE;
        let mut seen: Vec<f64> = Vec::new();
        let mut shot = false;
        let mut disabled = false;
        let mut errors_hidden = false;
        while still_here().await {
            if let Ok(Some(p)) = self
                .client
                .find_all(Locator::XPath(&bar))
                .await
                .map(|v| v.into_iter().next())
            {
                if p.is_displayed().await.unwrap_or(false) {
                    let value = self
                        .client
                        .execute(
                            "return arguments[0].value;",
                            vec![serde_json::to_value(&p).unwrap_or(Value::Null)],
                        )
                        .await;
                    if let Some(v) = value.ok().and_then(|v| v.as_f64()) {
                        seen.push(v);
                        if !shot && v > 0.0 && v < 100.0 {
                            self.shot(step).await;
                            shot = true;
                            // The button cannot be clicked again while the file goes up.
                            let b = self.the_one(&button_xpath(button), &what).await;
                            disabled = !b.is_enabled().await.unwrap_or(true);
                            let mut shown = false;
                            for a in self
                                .client
                                .find_all(Locator::XPath(alerts))
                                .await
                                .unwrap_or_default()
                            {
                                shown |= a.is_displayed().await.unwrap_or(false);
                            }
                            errors_hidden = !shown;
                        }
                    }
                }
            }
            if Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        self.limit_uploads(None).await;
        let partly = seen.iter().any(|v| *v > 0.0 && *v < 100.0);
        let grows = seen.windows(2).all(|w| w[0] <= w[1]);
        self.check(
            partly && grows,
            &format!(
                "the progress bar to show the upload growing between 0 and 100, seen {seen:?}"
            ),
        )
        .await;
        self.check(
            disabled,
            &format!("{what} to be disabled while the file goes up"),
        )
        .await;
        self.check(errors_hidden, "no error box while a new file goes up")
            .await;
    }

    /// Waits for the data set's page: its name as the heading under the workspace's.
    async fn expect_data_set_heading(&self, name: &str) {
        let xpath = format!("//h2[normalize-space()={}]", xpath_literal(name));
        self.the_one(&xpath, &format!("the data set heading {name:?}"))
            .await;
    }

    /// The text beside `name` in the data set's facts.
    async fn fact(&self, name: &str) -> String {
        let xpath = format!(
            "//dt[normalize-space()={}]/following-sibling::dd[1]",
            xpath_literal(name)
        );
        let dd = self.the_one(&xpath, &format!("the fact {name:?}")).await;
        dd.text().await.unwrap_or_default().trim().to_string()
    }

    async fn expect_fact(&self, name: &str, value: &str) {
        let shown = self.fact(name).await;
        self.check(
            shown == value,
            &format!("{name} to read {value:?}, not {shown:?}"),
        )
        .await;
    }

    /// Waits for the error box to name `problem`.
    async fn expect_alert_saying(&self, problem: &str) {
        let xpath = format!(
            "//*[@role='alert']//li[normalize-space()={}]",
            xpath_literal(problem)
        );
        self.the_one(&xpath, &format!("the problem {problem:?} in the error box"))
            .await;
    }

    /// Waits for the pager to read `text`.
    async fn expect_pager(&self, text: &str) {
        let xpath = format!(
            "//nav[@aria-label='Pages']/span[normalize-space()={}]",
            xpath_literal(text)
        );
        self.the_one(&xpath, &format!("the pager saying {text:?}"))
            .await;
    }

    async fn expect_no_link(&self, text: &str) {
        let xpath = format!("//a[normalize-space()={}]", xpath_literal(text));
        let found = self
            .client
            .find_all(Locator::XPath(&xpath))
            .await
            .unwrap_or_default();
        self.check(found.is_empty(), &format!("no link {text:?}"))
            .await;
    }

    fn column_choice(name: &str) -> String {
        format!(
            "//fieldset[legend[normalize-space()='Columns']]\
             //label[normalize-space()={}]/input[@type='checkbox']",
            xpath_literal(name)
        )
    }

    /// Clears the checkbox of column `name` in the column picker.
    async fn untick_column(&self, name: &str) {
        let what = format!("the column choice {name:?}");
        let c = self.the_one(&Self::column_choice(name), &what).await;
        if c.is_selected().await.unwrap_or(false) {
            self.click(c, &what).await;
        }
    }

    /// Ticks the checkbox of column `name` in the column picker.
    async fn tick_column(&self, name: &str) {
        let what = format!("the column choice {name:?}");
        let c = self.the_one(&Self::column_choice(name), &what).await;
        if !c.is_selected().await.unwrap_or(false) {
            self.click(c, &what).await;
        }
    }

    async fn expect_no_column_choice(&self, name: &str) {
        let found = self
            .client
            .find_all(Locator::XPath(&Self::column_choice(name)))
            .await
            .unwrap_or_default();
        self.check(
            found.is_empty(),
            &format!("no column choice {name:?} in the picker"),
        )
        .await;
    }

    /// The cells' texts of the one table at `xpath`, header row first, once
    /// `ok` holds for them (the page may still be loading).
    async fn table_when(
        &self,
        xpath: &str,
        what: &str,
        ok: impl Fn(&[Vec<String>]) -> bool,
    ) -> Vec<Vec<String>> {
        let deadline = Instant::now() + PATIENCE;
        let mut last = Vec::new();
        loop {
            let found = self
                .client
                .find_all(Locator::XPath(xpath))
                .await
                .unwrap_or_default();
            if let [table] = found.as_slice() {
                let read = self
                    .client
                    .execute(
                        "return Array.from(arguments[0].rows).map(r => \
                         Array.from(r.cells).map(c => c.innerText.trim()));",
                        vec![serde_json::to_value(table).unwrap_or(Value::Null)],
                    )
                    .await;
                if let Ok(v) = read {
                    last = serde_json::from_value::<Vec<Vec<String>>>(v).unwrap_or_default();
                    if !last.is_empty() && ok(&last) {
                        return last;
                    }
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "{}",
                    self.report(&format!("expected {what}; the table read {last:?}"))
                        .await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
