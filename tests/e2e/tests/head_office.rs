//! The head office's everyday work with its customer base, driven through the real window:
//! import a spreadsheet, find a customer, add one, delete one.
//!
//! Run through `scripts/test.sh`, which builds the app and starts Xvfb and tauri-driver.

use std::path::Path;
use std::time::Duration;

use clientela_e2e::testid::*;
use clientela_e2e::{within, App, Check, Config, Failure};
use serde_json::json;

/// A Spanish Excel export: `;`-separated, Windows-1252, CRLF.
const SPANISH_EXCEL_CSV: &str = "excel-es-semicolon-cp1252.csv";

/// The customers in that file, as the corpus log lists them: 3 customers, no errors.
const IMPORTED: [&str; 3] = ["Íñigo Muñoz Pérez", "Begoña Ibáñez", "José Güell Façanés"];

const ADDED: &str = "Marta Prueba Final";

/// Every step below waits at most 20 s; this bounds the whole run if the app hangs.
const WHOLE_RUN: Duration = Duration::from_secs(300);

/// The wizard has a handful of steps; more clicks on Next than this means it is stuck.
const MAX_WIZARD_STEPS: usize = 10;

#[tokio::test]
async fn head_office_imports_finds_adds_and_deletes_customers() {
    let config = Config::from_env();
    let app = App::launch(&config)
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));

    let outcome = within(WHOLE_RUN, "the test", work_through_the_day(&app, &config)).await;
    if outcome.is_err() {
        app.note("failed; taking a screenshot");
        if let Err(failure) = app.screenshot("failure").await {
            eprintln!("no screenshot of the failure: {failure}");
        }
    }
    let closed = app.close().await;

    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    closed.unwrap_or_else(|failure| panic!("{failure}"));
}

async fn work_through_the_day(app: &App, config: &Config) -> Result<(), Failure> {
    app.wait_for(APP_READY).await?;
    app.note("the first load finished");

    import_spanish_excel_file(app, &config.corpus_file(SPANISH_EXCEL_CSV)).await?;
    search_without_accents_finds_jose(app).await?;
    add_a_customer_by_hand(app).await?;
    delete_begona(app).await
}

/// Imports the file as a dropped file would be, through every step of the wizard; the list
/// then shows its three customers with their accents intact.
async fn import_spanish_excel_file(app: &App, file: &Path) -> Result<(), Failure> {
    app.note("importing the Spanish Excel file");
    let path = file
        .to_str()
        .ok_or_else(|| Failure::new("corpus path is not UTF-8"))?;
    app.execute(
        "return window.__clientela.importPath(arguments[0])",
        vec![json!(path)],
    )
    .await?;

    go_through_wizard_until_import_is_offered(app).await?;
    app.click(IMPORT_RUN).await?;
    app.wait_for(IMPORT_SUMMARY).await?;
    app.screenshot("1-import-summary").await?;
    app.click(IMPORT_CLOSE).await?;

    app.wait_for_list("the three imported customers are listed", 3, |rows| {
        rows.len() == 3 && IMPORTED.iter().all(|name| contains(rows, name))
    })
    .await?;
    app.screenshot("2-after-import").await
}

async fn go_through_wizard_until_import_is_offered(app: &App) -> Result<(), Failure> {
    for _ in 0..MAX_WIZARD_STEPS {
        let import_offered = app
            .poll("the import wizard offers Next or Import", async || {
                if app.is_present(IMPORT_RUN).await? {
                    Ok(Check::Done(true))
                } else if app.is_present(IMPORT_NEXT).await? {
                    Ok(Check::Done(false))
                } else {
                    Ok(Check::NotYet("neither button is in the page".into()))
                }
            })
            .await?;
        if import_offered {
            return Ok(());
        }

        // Next must take the wizard to another step before it is clicked again, or a slow
        // step would be skipped by a second click.
        let before = page_text(app).await?;
        app.click(IMPORT_NEXT).await?;
        app.poll("the wizard moves on after Next", async || {
            if app.is_present(IMPORT_RUN).await? || page_text(app).await? != before {
                Ok(Check::Done(()))
            } else {
                Ok(Check::NotYet("the same step".into()))
            }
        })
        .await?;
    }
    Err(Failure::new(format!(
        "Import was not offered after {MAX_WIZARD_STEPS} clicks on Next"
    )))
}

/// Search folds accents: "jose" finds José Güell Façanés and nobody else.
async fn search_without_accents_finds_jose(app: &App) -> Result<(), Failure> {
    app.note("searching for \"jose\"");
    app.fill(SEARCH, "jose").await?;
    app.wait_for_list(
        "the search for \"jose\" lists José Güell Façanés alone",
        1,
        |rows| rows.len() == 1 && contains(rows, "José Güell Façanés"),
    )
    .await?;
    app.screenshot("3-after-search").await?;

    app.erase(SEARCH).await?;
    app.wait_for_list("clearing the search lists all three again", 3, |rows| {
        rows.len() == 3
    })
    .await
    .map(drop)
}

/// A customer typed into the form joins the list at once.
async fn add_a_customer_by_hand(app: &App) -> Result<(), Failure> {
    app.note("adding a customer by hand");
    app.click(ADD_CUSTOMER).await?;
    app.fill(FIRST_NAME, "Marta").await?;
    app.fill(LAST_NAME, "Prueba Final").await?;
    app.fill(FIRST_EMAIL, "marta.prueba@example.com").await?;
    app.fill(FIRST_PHONE, "600 000 999").await?;
    app.click(SAVE_CUSTOMER).await?;

    app.wait_for_list("the added customer is listed, four in all", 4, |rows| {
        rows.len() == 4 && contains(rows, ADDED)
    })
    .await?;
    app.screenshot("4-after-add").await
}

/// Deleting a customer after confirming removes only that customer from the list.
async fn delete_begona(app: &App) -> Result<(), Failure> {
    app.note("deleting Begoña");
    app.click_row_containing("Begoña").await?;
    app.wait_for(CUSTOMER_DETAIL).await?;
    app.click(DELETE_CUSTOMER).await?;
    app.click(CONFIRM_DELETE).await?;

    app.wait_for_list("Begoña is gone and the other three remain", 3, |rows| {
        rows.len() == 3
            && !contains(rows, "Begoña")
            && ["Íñigo Muñoz Pérez", "José Güell Façanés", ADDED]
                .iter()
                .all(|name| contains(rows, name))
    })
    .await?;
    app.screenshot("5-after-delete").await
}

fn contains(rows: &[String], text: &str) -> bool {
    rows.iter().any(|row| row.contains(text))
}

async fn page_text(app: &App) -> Result<String, Failure> {
    let text = app
        .execute("return document.body.innerText;", vec![])
        .await?;
    Ok(text.as_str().unwrap_or_default().to_owned())
}
