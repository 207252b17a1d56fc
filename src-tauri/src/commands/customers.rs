//! Active Customers, the customer form and deletions.

use chrono::Utc;
use clientela_core::domain::validate::{normalize_customer, FieldProblem};
use clientela_core::domain::{Assignment, Customer, CustomerFields, CustomerId};
use clientela_core::store::{CustomerFilter, CustomerPage, DeletionOutcome, PendingDeletion};
use tauri::State;

use crate::error::{CommandError, CommandResult};
use crate::state::AppState;

/// A page of Active Customers.
#[tauri::command]
#[specta::specta]
pub async fn list_customers(
    state: State<'_, AppState>,
    filter: CustomerFilter,
    offset: u32,
    limit: u32,
) -> CommandResult<CustomerPage> {
    Ok(state.store.list_customers(&filter, offset, limit).await?)
}

/// How many customers match the filter.
#[tauri::command]
#[specta::specta]
pub async fn count_customers(
    state: State<'_, AppState>,
    filter: CustomerFilter,
) -> CommandResult<u32> {
    Ok(state.store.count_customers(&filter).await?)
}

/// One customer with every field.
#[tauri::command]
#[specta::specta]
pub async fn get_customer(state: State<'_, AppState>, id: CustomerId) -> CommandResult<Customer> {
    Ok(state.store.customer(id).await?)
}

/// The problems of a form draft, for inline validation; empty when it can be saved.
#[tauri::command]
#[specta::specta]
pub fn check_customer(draft: CustomerFields, region: String) -> Vec<FieldProblem> {
    normalize_customer(&draft, &region)
        .err()
        .unwrap_or_default()
}

/// Adds a global customer.
#[tauri::command]
#[specta::specta]
pub async fn create_customer(
    state: State<'_, AppState>,
    draft: CustomerFields,
    assignment: Assignment,
    region: String,
) -> CommandResult<Customer> {
    Ok(state
        .store
        .create_customer(&draft, &assignment, &region, Utc::now())
        .await?)
}

/// Changes a customer.
#[tauri::command]
#[specta::specta]
pub async fn update_customer(
    state: State<'_, AppState>,
    id: CustomerId,
    draft: CustomerFields,
    assignment: Assignment,
    region: String,
) -> CommandResult<Customer> {
    Ok(state
        .store
        .update_customer(id, &draft, &assignment, &region, Utc::now())
        .await?)
}

/// What deleting the customer would do in each branch, for the confirmation.
#[tauri::command]
#[specta::specta]
pub async fn deletion_preview(
    state: State<'_, AppState>,
    id: CustomerId,
) -> CommandResult<DeletionOutcome> {
    Ok(state.store.deletion_preview(id, Utc::now()).await?)
}

/// Deletes the customer where allowed; blocked branches wait in Customers to delete.
#[tauri::command]
#[specta::specta]
pub async fn delete_customer(
    state: State<'_, AppState>,
    id: CustomerId,
) -> CommandResult<DeletionOutcome> {
    Ok(state.store.delete_customer(id, Utc::now()).await?)
}

/// Customers to delete.
#[tauri::command]
#[specta::specta]
pub async fn pending_deletions(state: State<'_, AppState>) -> CommandResult<Vec<PendingDeletion>> {
    Ok(state.store.pending_deletions(Utc::now()).await?)
}

/// Tries again to complete one deletion; true when the customer is now gone.
#[tauri::command]
#[specta::specta]
pub async fn retry_deletion(state: State<'_, AppState>, id: CustomerId) -> CommandResult<bool> {
    Ok(state.store.retry_deletion(id, Utc::now()).await?)
}

/// Writes the customers matching `filter` to `path` as CSV.
#[tauri::command]
#[specta::specta]
pub async fn export_customers(
    state: State<'_, AppState>,
    filter: CustomerFilter,
    path: String,
) -> CommandResult<()> {
    let csv = state.store.export_customers(&filter).await?;
    tokio::fs::write(&path, csv)
        .await
        .map_err(|e| CommandError::write_file(&e))
}
