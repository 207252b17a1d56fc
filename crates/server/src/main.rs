//! `clientela-server`: runs the sync server, and manages companies and credentials.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use clientela_server::{serve, Db, Role};

#[derive(Parser)]
#[command(version, about = "Clientela's sync server")]
struct Cli {
    /// Folder of the server's SQLite database.
    #[arg(
        long,
        env = "CLIENTELA_SERVER_DATA",
        default_value = "clientela-server-data"
    )]
    data_dir: PathBuf,
    /// A `postgres://` URL: run on PostgreSQL instead of the SQLite file in the data
    /// folder. Several instances may share one database.
    #[arg(long, env = "CLIENTELA_DATABASE_URL")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the API.
    Serve {
        /// Address and port to listen on.
        #[arg(long, default_value = "127.0.0.1:7878")]
        listen: SocketAddr,
    },
    /// Adds a company and prints its id.
    AddCompany { name: String },
    /// Adds a credential and prints its id and secret (shown once).
    AddCredential {
        #[arg(long)]
        company: String,
        /// The branch id, for a branch credential; without it, head office.
        #[arg(long)]
        branch: Option<String>,
        /// A name to recognise it by.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Revokes a credential: its next request is refused.
    Revoke { credential: String },
    /// Lists a company's credentials (never their secrets).
    Credentials {
        #[arg(long)]
        company: String,
    },
    /// Lists the branches head office has made, with the ids branch credentials need.
    Branches {
        #[arg(long)]
        company: String,
    },
    /// How much a company has on the server: customers, changes in the log, deletions.
    Stats {
        #[arg(long)]
        company: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CLIENTELA_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clientela-server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let db = match &cli.database_url {
        Some(url) => Db::connect(url).await?,
        None => Db::open(&cli.data_dir).await?,
    };
    match cli.command {
        Command::Serve { listen } => {
            let listener = tokio::net::TcpListener::bind(listen).await?;
            // The one line on standard output: scripts and tests read the bound port here.
            println!("listening on http://{}", listener.local_addr()?);
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            serve(listener, db, shutdown).await?;
        }
        Command::AddCompany { name } => println!("{}", db.add_company(&name).await?),
        Command::AddCredential {
            company,
            branch,
            name,
        } => {
            let role = if branch.is_some() {
                Role::Branch
            } else {
                Role::HeadOffice
            };
            let (id, secret) = db
                .add_credential(&company, role, branch.as_deref(), &name)
                .await?;
            println!("credential: {id}\nsecret:     {secret}");
        }
        Command::Revoke { credential } => db.revoke_credential(&credential).await?,
        Command::Credentials { company } => {
            for c in db.credentials(&company).await? {
                let role = match c.role {
                    Role::HeadOffice => "head office".to_owned(),
                    Role::Branch => format!("branch {}", c.branch.unwrap_or_default()),
                };
                let state = if c.revoked { "revoked" } else { "active" };
                println!("{}  {role}  {state}  {}", c.id, c.name);
            }
        }
        Command::Branches { company } => {
            for (id, name) in db.branches(&company).await? {
                println!("{id}  {name}");
            }
        }
        Command::Stats { company } => {
            let stats = db.stats(&company).await?;
            println!("customers: {}", stats.customers);
            println!("changes:   {}", stats.changes);
            println!("deleted:   {}", stats.deleted);
        }
    }
    Ok(())
}
