//! The integrator API over HTTP: `/v1/customers` and `/v1/appointments`, authorised like
//! sync, described by the OpenAPI document at `/v1/openapi.json`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::api::Body;
use crate::db::{Caller, Db};
use crate::integrator::{
    region_of, AppointmentInput, AppointmentStep, AppointmentView, BranchInput, BranchView,
    CustomerInput, CustomerPage, CustomerQuery, CustomerView, ImportRequest, ImportResult,
};
use crate::log::is_canonical_uuid;
use crate::Error;

/// The API's description, kept beside the code and checked against the routes by a test.
pub const OPENAPI: &str = include_str!("../openapi.json");

pub(crate) fn routes() -> Router<Db> {
    Router::new()
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/customers", get(list).post(create))
        .route("/v1/customers/import", post(import))
        .route("/v1/customers/{id}", get(read).patch(update).delete(delete))
        .route("/v1/branches", get(branches).post(add_branch))
        .route("/v1/appointments", post(book))
        .route("/v1/appointments/{id}", get(appointment))
        .route("/v1/appointments/{id}/cancel", post(cancel))
        .route("/v1/appointments/{id}/complete", post(complete))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// `?region=DE`: where phone numbers without a country code are read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegionQuery {
    region: Option<String>,
}

fn region(query: Result<Query<RegionQuery>, QueryRejection>) -> Result<String, Error> {
    let Query(query) = query.map_err(|e| Error::invalid("query", e.body_text()))?;
    region_of(query.region.as_deref())
}

/// A path id in its one accepted spelling; anything else names nothing.
fn id(what: &'static str, id: String) -> Result<String, Error> {
    if is_canonical_uuid(&id) {
        Ok(id)
    } else {
        Err(Error::NotFound(what))
    }
}

async fn list(
    State(db): State<Db>,
    caller: Caller,
    query: Result<Query<CustomerQuery>, QueryRejection>,
) -> Result<Json<CustomerPage>, Error> {
    let Query(query) = query.map_err(|e| Error::invalid("query", e.body_text()))?;
    Ok(Json(db.api_customers(&caller, query).await?))
}

async fn create(
    State(db): State<Db>,
    caller: Caller,
    query: Result<Query<RegionQuery>, QueryRejection>,
    Body(input): Body<CustomerInput>,
) -> Result<(StatusCode, Json<CustomerView>), Error> {
    let region = region(query)?;
    let created = db.api_create_customer(&caller, input, &region).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn read(
    State(db): State<Db>,
    caller: Caller,
    Path(customer): Path<String>,
) -> Result<Json<CustomerView>, Error> {
    let customer = id("customer", customer)?;
    Ok(Json(db.api_customer(&caller, &customer).await?))
}

async fn update(
    State(db): State<Db>,
    caller: Caller,
    Path(customer): Path<String>,
    query: Result<Query<RegionQuery>, QueryRejection>,
    Body(input): Body<CustomerInput>,
) -> Result<Json<CustomerView>, Error> {
    let customer = id("customer", customer)?;
    let region = region(query)?;
    let updated = db
        .api_update_customer(&caller, &customer, input, &region)
        .await?;
    Ok(Json(updated))
}

async fn delete(
    State(db): State<Db>,
    caller: Caller,
    Path(customer): Path<String>,
) -> Result<StatusCode, Error> {
    let customer = id("customer", customer)?;
    db.api_delete_customer(&caller, &customer).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Serialize)]
struct ImportResponse {
    results: Vec<ImportResult>,
}

async fn import(
    State(db): State<Db>,
    caller: Caller,
    query: Result<Query<RegionQuery>, QueryRejection>,
    Body(request): Body<ImportRequest>,
) -> Result<Json<ImportResponse>, Error> {
    let region = region(query)?;
    let results = db.api_import(&caller, request, &region).await?;
    Ok(Json(ImportResponse { results }))
}

async fn branches(State(db): State<Db>, caller: Caller) -> Result<Json<Vec<BranchView>>, Error> {
    Ok(Json(db.api_branches(&caller).await?))
}

async fn add_branch(
    State(db): State<Db>,
    caller: Caller,
    Body(input): Body<BranchInput>,
) -> Result<(StatusCode, Json<BranchView>), Error> {
    let added = db.api_create_branch(&caller, input).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

async fn book(
    State(db): State<Db>,
    caller: Caller,
    Body(input): Body<AppointmentInput>,
) -> Result<(StatusCode, Json<AppointmentView>), Error> {
    let booked = db.api_create_appointment(&caller, input).await?;
    Ok((StatusCode::CREATED, Json(booked)))
}

async fn appointment(
    State(db): State<Db>,
    caller: Caller,
    Path(appointment): Path<String>,
) -> Result<Json<AppointmentView>, Error> {
    let appointment = id("appointment", appointment)?;
    Ok(Json(db.api_appointment(&caller, &appointment).await?))
}

async fn cancel(
    State(db): State<Db>,
    caller: Caller,
    Path(appointment): Path<String>,
) -> Result<Json<AppointmentView>, Error> {
    step(db, caller, appointment, AppointmentStep::Cancel).await
}

async fn complete(
    State(db): State<Db>,
    caller: Caller,
    Path(appointment): Path<String>,
) -> Result<Json<AppointmentView>, Error> {
    step(db, caller, appointment, AppointmentStep::Complete).await
}

async fn step(
    db: Db,
    caller: Caller,
    appointment: String,
    step: AppointmentStep,
) -> Result<Json<AppointmentView>, Error> {
    let appointment = id("appointment", appointment)?;
    Ok(Json(
        db.api_step_appointment(&caller, &appointment, step).await?,
    ))
}
