//! The domain: customers, branches, appointments and the rules between them
//! (DESIGN.md, section 2). No storage, no network, no window.

pub mod contact;
pub mod customer;
pub mod deletion;
pub mod ids;
pub mod search;
pub mod text;
pub mod validate;

pub use customer::{
    Address, Assignment, Birthday, Customer, CustomerFields, Email, Gender, Origin, Phone,
};
pub use ids::{AppointmentId, BranchId, CustomerId, TagId};
