//! Branches, tags and appointments.

use chrono::Utc;
use clientela_core::domain::{AppointmentId, BranchId, CustomerId, TagId};
use clientela_core::store::{Appointment, Branch, BranchInput, NewAppointment, Tag};
use tauri::State;

use crate::error::CommandResult;
use crate::state::AppState;

/// Every branch.
#[tauri::command]
#[specta::specta]
pub async fn list_branches(state: State<'_, AppState>) -> CommandResult<Vec<Branch>> {
    Ok(state.store.branches().await?)
}

/// Adds a branch.
#[tauri::command]
#[specta::specta]
pub async fn create_branch(
    state: State<'_, AppState>,
    input: BranchInput,
) -> CommandResult<Branch> {
    Ok(state.store.create_branch(&input, Utc::now()).await?)
}

/// Renames a branch or changes its country or time zone.
#[tauri::command]
#[specta::specta]
pub async fn update_branch(
    state: State<'_, AppState>,
    id: BranchId,
    input: BranchInput,
) -> CommandResult<Branch> {
    Ok(state.store.update_branch(id, &input, Utc::now()).await?)
}

/// Every tag.
#[tauri::command]
#[specta::specta]
pub async fn list_tags(state: State<'_, AppState>) -> CommandResult<Vec<Tag>> {
    Ok(state.store.tags().await?)
}

/// Adds a tag.
#[tauri::command]
#[specta::specta]
pub async fn create_tag(state: State<'_, AppState>, name: String) -> CommandResult<Tag> {
    Ok(state.store.create_tag(&name, Utc::now()).await?)
}

/// Renames a tag.
#[tauri::command]
#[specta::specta]
pub async fn rename_tag(state: State<'_, AppState>, id: TagId, name: String) -> CommandResult<()> {
    Ok(state.store.rename_tag(id, &name).await?)
}

/// A customer's appointments.
#[tauri::command]
#[specta::specta]
pub async fn customer_appointments(
    state: State<'_, AppState>,
    id: CustomerId,
) -> CommandResult<Vec<Appointment>> {
    Ok(state.store.appointments_of(id).await?)
}

/// Books an appointment at a branch.
#[tauri::command]
#[specta::specta]
pub async fn add_appointment(
    state: State<'_, AppState>,
    appointment: NewAppointment,
) -> CommandResult<Appointment> {
    Ok(state
        .store
        .add_appointment(&appointment, Utc::now())
        .await?)
}

/// Cancels an appointment; a deletion it blocked completes by itself.
#[tauri::command]
#[specta::specta]
pub async fn cancel_appointment(
    state: State<'_, AppState>,
    id: AppointmentId,
) -> CommandResult<()> {
    Ok(state.store.cancel_appointment(id, Utc::now()).await?)
}
