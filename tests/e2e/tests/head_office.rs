//! The head office's everyday work with its customer base, driven through the real window:
//! import a spreadsheet, find a customer, add one, delete one; then connect to a sync
//! server of our own and see every change reach it.
//!
//! Run through `scripts/test.sh`, which builds the app and starts Xvfb and tauri-driver.

use std::path::Path;
use std::time::Duration;

use clientela_e2e::testid::*;
use clientela_e2e::{within, App, Check, Config, Failure, SyncServer};
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
    delete_begona(app).await?;

    let server = SyncServer::start(config).await?;
    connect_to_the_sync_server(app, &server).await?;
    a_new_change_reaches_the_server_by_itself(app, &server).await?;
    head_office_and_a_branch_window_see_each_others_changes(app, config, &server).await
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

/// Signing in sends everything made offline: the server holds the three customers.
async fn connect_to_the_sync_server(app: &App, server: &SyncServer) -> Result<(), Failure> {
    app.note("connecting to the sync server");
    app.click(NAV_SYNC).await?;
    app.fill(SYNC_SERVER, &server.url).await?;
    app.fill(SYNC_SECRET, &server.secret).await?;
    app.click(SYNC_SIGN_IN).await?;
    held_by_server(app, server, 3, "the server holds the three customers").await?;
    app.screenshot("6-synced").await
}

/// A customer added while connected goes to the server without anyone asking.
async fn a_new_change_reaches_the_server_by_itself(
    app: &App,
    server: &SyncServer,
) -> Result<(), Failure> {
    app.note("adding a customer while connected");
    app.click(NAV_CUSTOMERS).await?;
    app.wait_for_list("the list is back", 3, |rows| rows.len() == 3)
        .await?;
    app.click(ADD_CUSTOMER).await?;
    app.fill(FIRST_NAME, "Nuria").await?;
    app.fill(LAST_NAME, "Sincronizada").await?;
    app.fill(FIRST_EMAIL, "nuria.sync@example.com").await?;
    app.click(SAVE_CUSTOMER).await?;
    app.wait_for_list("Nuria is listed", 4, |rows| {
        contains(rows, "Nuria Sincronizada")
    })
    .await?;
    held_by_server(app, server, 4, "the server holds Nuria too").await?;
    app.screenshot("7-change-synced").await
}

/// Head office makes a branch; the branch signs in on a second window of its own. What one
/// window adds appears in the other, through the server, without anyone asking.
async fn head_office_and_a_branch_window_see_each_others_changes(
    app: &App,
    config: &Config,
    server: &SyncServer,
) -> Result<(), Failure> {
    app.note("head office adds the Centro branch");
    app.click(NAV_BRANCHES).await?;
    app.click(ADD_BRANCH).await?;
    app.fill(BRANCH_NAME, "Centro").await?;
    app.click(SAVE_BRANCH).await?;
    let secret = app
        .poll("the server knows the Centro branch", async || {
            Ok(match server.branch_secret("Centro")? {
                Some(secret) => Check::Done(secret),
                None => Check::NotYet("no Centro branch on the server".into()),
            })
        })
        .await?;

    let branch = App::launch_on(config, &config.second_driver_url).await?;
    let outcome = both_windows(app, &branch, server, &secret).await;
    if outcome.is_err() {
        let _ = branch.screenshot("failure-branch").await;
    }
    let closed = branch.close().await;
    outcome?;
    closed
}

async fn both_windows(
    app: &App,
    branch: &App,
    server: &SyncServer,
    secret: &str,
) -> Result<(), Failure> {
    branch.wait_for(APP_READY).await?;
    branch.note("the branch window signs in");
    branch.click(NAV_SYNC).await?;
    branch.fill(SYNC_SERVER, &server.url).await?;
    branch.fill(SYNC_SECRET, secret).await?;
    branch.click(SYNC_SIGN_IN).await?;
    branch.click(NAV_CUSTOMERS).await?;
    branch
        .wait_for_list("the branch sees head office's four customers", 4, |rows| {
            contains(rows, "Nuria Sincronizada")
        })
        .await?;
    branch.screenshot("8-branch-window").await?;

    app.note("head office adds Rosa; the branch window shows her");
    app.click(NAV_CUSTOMERS).await?;
    app.wait_for_list("head office's list is back", 4, |_| true)
        .await?;
    add_customer(app, "Rosa", "Tiempo Real", "rosa.tiempo@example.com").await?;
    branch
        .wait_for_list("Rosa reaches the branch window", 5, |rows| {
            contains(rows, "Rosa Tiempo Real")
        })
        .await?;

    branch.note("the branch adds Lía; head office shows her");
    add_customer(branch, "Lía", "Sucursal", "lia.sucursal@example.com").await?;
    app.wait_for_list("Lía reaches head office", 6, |rows| {
        contains(rows, "Lía Sucursal")
    })
    .await?;
    app.screenshot("9-head-office-sees-the-branch").await?;
    branch.screenshot("9-branch-sees-head-office").await
}

/// Adds a customer through the + form and waits until the window lists them.
async fn add_customer(app: &App, first: &str, last: &str, email: &str) -> Result<(), Failure> {
    let (shown, _) = app.customer_count().await?;
    app.click(ADD_CUSTOMER).await?;
    app.fill(FIRST_NAME, first).await?;
    app.fill(LAST_NAME, last).await?;
    app.fill(FIRST_EMAIL, email).await?;
    app.click(SAVE_CUSTOMER).await?;
    let name = format!("{first} {last}");
    let count = shown.unwrap_or(0) + 1;
    app.wait_for_list(&format!("{name} is listed"), count, |rows| {
        contains(rows, &name)
    })
    .await
    .map(drop)
}

/// Waits until the server holds `customers` customers and the window says nothing waits.
async fn held_by_server(
    app: &App,
    server: &SyncServer,
    customers: u64,
    what: &str,
) -> Result<(), Failure> {
    app.poll(what, async || {
        let held = server.customers()?;
        let (online, waiting, _) = sync_status(app).await?;
        let seen = format!("server holds {held}; online={online} waiting={waiting}");
        Ok(if held == customers && online == "true" && waiting == "0" {
            Check::Done(())
        } else {
            Check::NotYet(seen)
        })
    })
    .await
}

/// The status area's online flag, changes waiting and last sync time.
async fn sync_status(app: &App) -> Result<(String, String, String), Failure> {
    let status = app.wait_for(SYNC_STATUS).await?;
    let attr = async |name: &str| -> Result<String, Failure> {
        let value = status.attr(name).await;
        Ok(value
            .map_err(|e| Failure::new(format!("reading {name}: {e}")))?
            .unwrap_or_default())
    };
    Ok((
        attr("data-online").await?,
        attr("data-waiting").await?,
        attr("data-synced").await?,
    ))
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
