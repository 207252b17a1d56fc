//! Drives the real Clientela window through tauri-driver, for the end-to-end tests.
//!
//! `scripts/test.sh` starts Xvfb and tauri-driver, then runs these tests with the environment
//! that [`Config::from_env`] reads. Every wait polls a condition until a bounded timeout; nothing
//! sleeps for a fixed time.

use std::env;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tokio::time::{interval, Instant, MissedTickBehavior};

/// How long any condition may take to hold before the test fails. A debug build on a loaded
/// two-core CI machine answers in well under a second; the margin is for the first page load.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// How often a condition is checked while waiting for it.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// How long the app may take to start before the session fails. WebKitWebDriver waits
/// without end for an app that never opens its window.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(60);

/// Fails with `what` when `work` has not finished within `limit`, so that a hung app or
/// driver ends the test rather than CI's time.
pub async fn within<T>(
    limit: Duration,
    what: &str,
    work: impl Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
        Err(Failure(format!(
            "{what} did not finish within {}s",
            limit.as_secs()
        )))
    })
}

/// The `data-testid` hooks that the UI provides for these tests.
pub mod testid {
    pub const APP_READY: &str = r#"[data-testid="app-ready"]"#;
    pub const IMPORT_NEXT: &str = r#"[data-testid="import-next"]"#;
    pub const IMPORT_RUN: &str = r#"[data-testid="import-run"]"#;
    pub const IMPORT_SUMMARY: &str = r#"[data-testid="import-summary"]"#;
    pub const IMPORT_CLOSE: &str = r#"[data-testid="import-close"]"#;
    pub const CUSTOMER_COUNT: &str = r#"[data-testid="customer-count"]"#;
    pub const CUSTOMER_ROW: &str = r#"[data-testid="customer-row"]"#;
    pub const CUSTOMER_DETAIL: &str = r#"[data-testid="customer-detail"]"#;
    pub const SEARCH: &str = r#"[data-testid="search"]"#;
    pub const ADD_CUSTOMER: &str = r#"[data-testid="add-customer"]"#;
    pub const SAVE_CUSTOMER: &str = r#"[data-testid="save-customer"]"#;
    pub const DELETE_CUSTOMER: &str = r#"[data-testid="delete-customer"]"#;
    pub const CONFIRM_DELETE: &str = r#"[data-testid="confirm-delete"]"#;
    pub const FIRST_NAME: &str = r#"[data-testid="field-firstName"]"#;
    pub const LAST_NAME: &str = r#"[data-testid="field-lastName"]"#;
    pub const FIRST_EMAIL: &str = r#"[data-testid="field-email-0"]"#;
    pub const FIRST_PHONE: &str = r#"[data-testid="field-phone-0"]"#;
    pub const NAV_CUSTOMERS: &str = r#"[data-testid="nav-customers"]"#;
    pub const NAV_SYNC: &str = r#"[data-testid="nav-sync"]"#;
    pub const SYNC_SERVER: &str = r#"[data-testid="sync-server"]"#;
    pub const SYNC_SECRET: &str = r#"[data-testid="sync-secret"]"#;
    pub const SYNC_SIGN_IN: &str = r#"[data-testid="sync-sign-in"]"#;
    pub const SYNC_STATUS: &str = r#"[data-testid="sync-status"]"#;
    pub const NAV_BRANCHES: &str = r#"[data-testid="nav-branches"]"#;
    pub const ADD_BRANCH: &str = r#"[data-testid="add-branch"]"#;
    pub const BRANCH_NAME: &str = r#"[data-testid="branch-name"]"#;
    pub const SAVE_BRANCH: &str = r#"[data-testid="save-branch"]"#;
}

/// Where the tests find tauri-driver, the app binary and the corpus.
#[derive(Debug, Clone)]
pub struct Config {
    pub driver_url: String,
    /// A second tauri-driver, with a data folder of its own, for a second window.
    pub second_driver_url: String,
    pub app: PathBuf,
    pub corpus: PathBuf,
}

impl Config {
    /// Reads the environment that `scripts/test.sh` sets, and panics with what is missing: an
    /// end-to-end test that cannot reach the app fails, it never passes by skipping.
    #[track_caller]
    pub fn from_env() -> Self {
        let driver_url = required_var(
            "CLIENTELA_E2E_DRIVER",
            "the URL of a running tauri-driver, e.g. http://127.0.0.1:4444",
        );
        let second_driver_url = required_var(
            "CLIENTELA_E2E_DRIVER_2",
            "the URL of a second running tauri-driver with its own CLIENTELA_DATA_DIR",
        );
        let app = PathBuf::from(required_var(
            "CLIENTELA_APP",
            "the absolute path of the built app, e.g. <repo>/target/debug/clientela",
        ));
        assert!(
            app.is_absolute() && app.is_file(),
            "CLIENTELA_APP={} is not the absolute path of a built binary; \
             build it with `cargo build --bin clientela`",
            app.display()
        );

        let corpus = env::var_os("CLIENTELA_CORPUS").map_or_else(default_corpus, PathBuf::from);
        assert!(
            corpus.is_dir(),
            "the corpus folder {} does not exist; set CLIENTELA_CORPUS to shared/corpus",
            corpus.display()
        );
        Self {
            driver_url,
            second_driver_url,
            app,
            corpus,
        }
    }

    /// The absolute path of a corpus file, which must exist.
    pub fn corpus_file(&self, name: &str) -> PathBuf {
        let path = self.corpus.join(name);
        assert!(path.is_file(), "corpus file {} is missing", path.display());
        path.canonicalize().unwrap_or(path)
    }
}

#[track_caller]
fn required_var(name: &str, meaning: &str) -> String {
    match env::var(name) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => panic!(
            "{name} is not set: it must hold {meaning}. Run the end-to-end tests through \
             scripts/test.sh, which builds the app and starts Xvfb and tauri-driver."
        ),
    }
}

/// `shared/corpus` beside the repository, which holds this crate in `tests/e2e`.
fn default_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

/// Why a step of an end-to-end test failed, in words a reader of the test log can act on.
#[derive(Debug)]
pub struct Failure(String);

impl Failure {
    /// A failure that says `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Failure {}

/// Says what the test was doing when a WebDriver command failed.
pub trait Context<T> {
    fn context(self, doing: impl fmt::Display) -> Result<T, Failure>;
}

impl<T> Context<T> for Result<T, CmdError> {
    fn context(self, doing: impl fmt::Display) -> Result<T, Failure> {
        self.map_err(|error| Failure(format!("{doing}: {error}")))
    }
}

impl<T> Context<T> for std::io::Result<T> {
    fn context(self, doing: impl fmt::Display) -> Result<T, Failure> {
        self.map_err(|error| Failure(format!("{doing}: {error}")))
    }
}

/// One look at the window while waiting for a condition.
pub enum Check<T> {
    /// The condition holds; the wait ends with this value.
    Done(T),
    /// Not yet; the text says what was seen, for the message if the wait times out.
    NotYet(String),
}

/// A running Clientela window under WebDriver control.
pub struct App {
    client: Client,
    screenshots: PathBuf,
    started: Instant,
}

impl App {
    /// Starts the app through tauri-driver, in a new WebDriver session.
    pub async fn launch(config: &Config) -> Result<Self, Failure> {
        Self::launch_on(config, &config.driver_url).await
    }

    /// Starts the app through the tauri-driver at `driver_url`.
    pub async fn launch_on(config: &Config, driver_url: &str) -> Result<Self, Failure> {
        let started = Instant::now();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("tauri:options".into(), json!({ "application": config.app }));
        let connect = async {
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(driver_url)
                .await
                .map_err(|error| {
                    Failure(format!(
                        "could not start {} through tauri-driver at {}: {error}",
                        config.app.display(),
                        driver_url
                    ))
                })
        };
        let client = within(LAUNCH_TIMEOUT, "starting the app", connect).await?;

        let screenshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
        std::fs::create_dir_all(&screenshots).map_err(|error| {
            Failure(format!(
                "could not create {}: {error}",
                screenshots.display()
            ))
        })?;
        let app = Self {
            client,
            screenshots,
            started,
        };
        app.note("the app is up");
        Ok(app)
    }

    /// Prints a progress line with the time since launch, for the test log.
    pub fn note(&self, what: &str) {
        eprintln!("[e2e {:6.1}s] {what}", self.started.elapsed().as_secs_f64());
    }

    /// Ends the WebDriver session, which closes the app.
    pub async fn close(self) -> Result<(), Failure> {
        let close = async {
            let closed = self.client.close().await;
            closed.context("closing the WebDriver session")
        };
        within(TIMEOUT, "closing the app", close).await
    }

    /// Checks a condition every [`POLL_EVERY`] until it is done, or fails after [`TIMEOUT`]
    /// with `what` and the last thing seen.
    pub async fn poll<T>(
        &self,
        what: &str,
        mut check: impl AsyncFnMut() -> Result<Check<T>, Failure>,
    ) -> Result<T, Failure> {
        let deadline = Instant::now() + TIMEOUT;
        let mut ticks = interval(POLL_EVERY);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match check().await? {
                Check::Done(value) => return Ok(value),
                Check::NotYet(seen) if Instant::now() >= deadline => {
                    return Err(Failure(format!(
                        "waited {}s until {what}, in vain; last seen: {seen}",
                        TIMEOUT.as_secs()
                    )));
                }
                Check::NotYet(_) => {}
            }
        }
    }

    /// Waits until an element matching `css` is in the page, and returns it.
    pub async fn wait_for(&self, css: &str) -> Result<Element, Failure> {
        let found = self
            .client
            .wait()
            .at_most(TIMEOUT)
            .every(POLL_EVERY)
            .for_element(Locator::Css(css))
            .await;
        found.map_err(|error| match error {
            CmdError::WaitTimeout => Failure(format!(
                "{css} did not appear within {}s",
                TIMEOUT.as_secs()
            )),
            error => Failure(format!("looking for {css}: {error}")),
        })
    }

    /// Whether an element matching `css` is in the page now.
    pub async fn is_present(&self, css: &str) -> Result<bool, Failure> {
        let found = self.client.find_all(Locator::Css(css)).await;
        Ok(!found.context(format_args!("looking for {css}"))?.is_empty())
    }

    /// Clicks the element matching `css` once it is there and enabled.
    pub async fn click(&self, css: &str) -> Result<(), Failure> {
        self.click_located(Locator::Css(css), css).await
    }

    /// Clicks `text` in the first customer row that shows it, as a user clicks the name they
    /// read. (WebKitWebDriver refuses a click on a `<tr>` itself as "element not interactable".)
    pub async fn click_row_containing(&self, text: &str) -> Result<(), Failure> {
        let xpath = text_in_row_xpath(text)?;
        self.click_located(
            Locator::XPath(&xpath),
            &format!("the row containing {text:?}"),
        )
        .await
    }

    async fn click_located(&self, locator: Locator<'_>, name: &str) -> Result<(), Failure> {
        self.poll(&format!("{name} could be clicked"), async || {
            let element = match self.interactable(locator).await? {
                Ok(element) => element,
                Err(seen) => return Ok(Check::NotYet(seen)),
            };
            match element.click().await {
                Ok(()) => Ok(Check::Done(())),
                Err(error) if is_transient(&error) => Ok(Check::NotYet(describe(&error))),
                Err(error) => Err(Failure(format!("clicking {name}: {error}"))),
            }
        })
        .await
    }

    /// Types `text` into the field matching `css`, after emptying it.
    pub async fn fill(&self, css: &str, text: &str) -> Result<(), Failure> {
        self.poll(&format!("{css} accepted {text:?}"), async || {
            let field = match self.interactable(Locator::Css(css)).await? {
                Ok(field) => field,
                Err(seen) => return Ok(Check::NotYet(seen)),
            };
            let typed = async {
                field.clear().await?;
                field.send_keys(text).await
            };
            match typed.await {
                Ok(()) => Ok(Check::Done(())),
                Err(error) if is_transient(&error) => Ok(Check::NotYet(describe(&error))),
                Err(error) => Err(Failure(format!("typing into {css}: {error}"))),
            }
        })
        .await
    }

    /// Deletes the text of the field matching `css` with Backspace, as a user would, so that
    /// the page sees the same input events as from a keyboard.
    pub async fn erase(&self, css: &str) -> Result<(), Failure> {
        let field = self.wait_for(css).await?;
        let value = field
            .prop("value")
            .await
            .context(format_args!("reading {css}"))?;
        let length = value.unwrap_or_default().chars().count();
        let backspaces = Key::Backspace.to_string().repeat(length);
        field
            .send_keys(&backspaces)
            .await
            .context(format_args!("erasing {css}"))
    }

    /// Finds `locator` and checks that a user could act on it: `Err` says why not yet.
    async fn interactable(&self, locator: Locator<'_>) -> Result<Result<Element, String>, Failure> {
        let element = match self.client.find(locator).await {
            Ok(element) => element,
            Err(error) if error.is_no_such_element() => {
                return Ok(Err("not in the page".into()));
            }
            Err(error) => return Err(Failure(format!("looking for {locator:?}: {error}"))),
        };
        let state = async {
            Ok::<_, CmdError>((element.is_displayed().await?, element.is_enabled().await?))
        };
        match state.await {
            Ok((true, true)) => Ok(Ok(element)),
            Ok((false, _)) => Ok(Err("in the page but hidden".into())),
            Ok((true, false)) => Ok(Err("shown but disabled".into())),
            Err(error) if is_transient(&error) => Ok(Err(describe(&error))),
            Err(error) => Err(Failure(format!("inspecting {locator:?}: {error}"))),
        }
    }

    /// Runs a script in the page and returns its result; a returned promise is awaited.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, Failure> {
        self.client
            .execute(script, args)
            .await
            .context(format_args!("running `{script}`"))
    }

    /// The visible text of every element matching `css`, read at one instant, with runs of
    /// white space (such as the tabs between table cells) folded into one space.
    pub async fn texts(&self, css: &str) -> Result<Vec<String>, Failure> {
        let script =
            "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText);";
        let value = self.execute(script, vec![json!(css)]).await?;
        let texts: Vec<String> = serde_json::from_value(value)
            .map_err(|error| Failure(format!("texts of {css} are not strings: {error}")))?;
        Ok(texts.iter().map(|text| fold_white_space(text)).collect())
    }

    /// The visible text of the first element matching `css`, if there is one.
    pub async fn text(&self, css: &str) -> Result<Option<String>, Failure> {
        Ok(self.texts(css).await?.into_iter().next())
    }

    /// The text of every customer row in the list.
    pub async fn customer_rows(&self) -> Result<Vec<String>, Failure> {
        self.texts(testid::CUSTOMER_ROW).await
    }

    /// The count of matching customers as shown (the first number in its text), and the text.
    pub async fn customer_count(&self) -> Result<(Option<u64>, String), Failure> {
        let text = self.text(testid::CUSTOMER_COUNT).await?.unwrap_or_default();
        Ok((first_number(&text), text))
    }

    /// Waits until the list shows `count` matching customers and its rows satisfy `holds`.
    pub async fn wait_for_list(
        &self,
        what: &str,
        count: u64,
        holds: impl Fn(&[String]) -> bool,
    ) -> Result<Vec<String>, Failure> {
        self.poll(what, async || {
            let (shown, count_text) = self.customer_count().await?;
            let rows = self.customer_rows().await?;
            if shown == Some(count) && holds(&rows) {
                Ok(Check::Done(rows))
            } else {
                Ok(Check::NotYet(format!(
                    "count {count_text:?}, rows {rows:?}"
                )))
            }
        })
        .await
    }

    /// Saves `<name>.png` of the window into `tests/e2e/screenshots/`, and `<name>-screen.png`
    /// of the whole X screen when `DISPLAY` is set.
    pub async fn screenshot(&self, name: &str) -> Result<(), Failure> {
        within(
            TIMEOUT,
            &format!("screenshot {name}"),
            self.save_screenshots(name),
        )
        .await
    }

    async fn save_screenshots(&self, name: &str) -> Result<(), Failure> {
        let png = self
            .client
            .screenshot()
            .await
            .context("taking a screenshot")?;
        let window = self.screenshots.join(format!("{name}.png"));
        std::fs::write(&window, png)
            .map_err(|error| Failure(format!("writing {}: {error}", window.display())))?;

        if env::var_os("DISPLAY").is_some() {
            let screen = self.screenshots.join(format!("{name}-screen.png"));
            let status = tokio::process::Command::new("import")
                .args(["-window", "root"])
                .arg(&screen)
                .status()
                .await
                .map_err(|error| {
                    Failure(format!(
                        "could not run ImageMagick's `import` ({error}); \
                         scripts/install-deps.sh installs it"
                    ))
                })?;
            if !status.success() {
                return Err(Failure(format!("`import -window root` failed: {status}")));
            }
        }
        Ok(())
    }
}

/// Errors that mean "the page is still changing", worth another look rather than a failure.
fn is_transient(error: &CmdError) -> bool {
    matches!(
        error,
        CmdError::Standard(webdriver) if matches!(
            webdriver.error,
            ErrorStatus::StaleElementReference
                | ErrorStatus::ElementNotInteractable
                | ErrorStatus::ElementClickIntercepted
        )
    )
}

/// A WebDriver error with its code, which some drivers send with an empty message.
fn describe(error: &CmdError) -> String {
    match error {
        CmdError::Standard(webdriver) => format!("{} {}", webdriver.error(), webdriver.message),
        error => error.to_string(),
    }
}

/// An XPath to the first element of a customer row (or the row) whose own text has `text`.
fn text_in_row_xpath(text: &str) -> Result<String, Failure> {
    const ROWS: &str = r#"//*[@data-testid="customer-row"]"#;
    if text.contains('"') {
        return Err(Failure(format!(
            "row text {text:?} cannot hold a double quote"
        )));
    }
    Ok(format!(
        r#"({ROWS}/descendant-or-self::*[text()[contains(., "{text}")]])[1]"#
    ))
}

fn fold_white_space(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first whole number in `text`: "3 clientes" and "Mostrando 3 de 3" both give 3.
fn first_number(text: &str) -> Option<u64> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A `clientela-server` of our own on a loopback port, with a company and a head-office
/// credential; stopped when dropped.
pub struct SyncServer {
    pub url: String,
    pub secret: String,
    company: String,
    binary: PathBuf,
    _process: tokio::process::Child,
    data: PathBuf,
}

impl SyncServer {
    /// Starts the server built beside the app (`target/debug/clientela-server`).
    pub async fn start(config: &Config) -> Result<Self, Failure> {
        let binary = config.app.with_file_name("clientela-server");
        if !binary.is_file() {
            return Err(Failure(format!(
                "{} is missing; build it with `cargo build --workspace`",
                binary.display()
            )));
        }
        let data = env::temp_dir().join(format!("clientela-e2e-server-{}", std::process::id()));
        let admin = |args: &[&str]| run_admin(&binary, &data, args);
        let company = admin(&["add-company", "Salones e2e"])?.trim().to_owned();
        let credential = admin(&["add-credential", "--company", &company, "--name", "oficina"])?;
        let secret = credential
            .lines()
            .find_map(|l| l.strip_prefix("secret:"))
            .map(|s| s.trim().to_owned())
            .ok_or_else(|| Failure(format!("no secret in {credential:?}")))?;

        let mut process = tokio::process::Command::new(&binary)
            .arg("--data-dir")
            .arg(&data)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting clientela-server")?;
        let stdout = process
            .stdout
            .take()
            .ok_or_else(|| Failure("clientela-server has no standard output".into()))?;
        let first_line = async {
            use tokio::io::AsyncBufReadExt;
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            lines
                .next_line()
                .await
                .context("reading clientela-server's output")
        };
        let line = within(TIMEOUT, "the server to listen", first_line)
            .await?
            .unwrap_or_default();
        let url = line
            .strip_prefix("listening on ")
            .map(str::to_owned)
            .ok_or_else(|| Failure(format!("clientela-server said {line:?}")))?;
        Ok(Self {
            url,
            secret,
            company,
            binary,
            _process: process,
            data,
        })
    }

    /// A new credential for the branch head office named `name`; `None` while the server
    /// has not heard of that branch yet.
    pub fn branch_secret(&self, name: &str) -> Result<Option<String>, Failure> {
        let listed = self.admin(&["branches", "--company", &self.company])?;
        let Some(id) = listed.lines().find_map(|l| {
            l.split_once("  ")
                .filter(|(_, n)| *n == name)
                .map(|(id, _)| id)
        }) else {
            return Ok(None);
        };
        let made = self.admin(&["add-credential", "--company", &self.company, "--branch", id])?;
        Ok(made
            .lines()
            .find_map(|l| l.strip_prefix("secret:"))
            .map(|s| s.trim().to_owned()))
    }

    fn admin(&self, args: &[&str]) -> Result<String, Failure> {
        run_admin(&self.binary, &self.data, args)
    }

    /// How many customers the server holds for the company, by its admin command.
    pub fn customers(&self) -> Result<u64, Failure> {
        let text = self.admin(&["stats", "--company", &self.company])?;
        text.lines()
            .find_map(|l| l.strip_prefix("customers:"))
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| Failure(format!("clientela-server stats said {text:?}")))
    }
}

/// Runs one admin command of `clientela-server` on the data folder; returns its output.
fn run_admin(binary: &Path, data: &Path, args: &[&str]) -> Result<String, Failure> {
    let output = std::process::Command::new(binary)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .context("running clientela-server")?;
    if !output.status.success() {
        return Err(Failure(format!(
            "clientela-server {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

impl Drop for SyncServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_number_reads_the_count_out_of_a_sentence() {
        assert_eq!(first_number("3 clientes"), Some(3));
        assert_eq!(first_number("Clientes: 12 de 40"), Some(12));
        assert_eq!(first_number("Ningún cliente"), None);
    }

    #[test]
    fn white_space_between_table_cells_folds_into_one_space() {
        assert_eq!(
            fold_white_space("Marta\tPrueba Final\n600 000 999 "),
            "Marta Prueba Final 600 000 999"
        );
    }

    #[test]
    fn row_xpath_refuses_text_that_would_break_its_quotes() {
        assert!(text_in_row_xpath("Begoña").is_ok());
        assert!(text_in_row_xpath(r#"say "hi""#).is_err());
    }
}
