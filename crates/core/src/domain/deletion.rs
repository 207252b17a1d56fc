//! Rule 8: a future appointment in a branch blocks the customer's deletion in that branch;
//! every other branch is cleared at once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{AppointmentId, BranchId};

/// Where an appointment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum AppointmentStatus {
    Booked,
    Cancelled,
    Completed,
}

impl AppointmentStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Booked => "booked",
            Self::Cancelled => "cancelled",
            Self::Completed => "completed",
        }
    }

    /// Reads the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "booked" => Some(Self::Booked),
            "cancelled" => Some(Self::Cancelled),
            "completed" => Some(Self::Completed),
            _ => None,
        }
    }
}

/// The facts about one appointment that the deletion rule looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppointmentSlot {
    pub id: AppointmentId,
    pub branch: BranchId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: AppointmentStatus,
}

impl AppointmentSlot {
    /// Booked and not yet over: such an appointment keeps the customer in its branch.
    pub fn blocks_deletion(&self, now: DateTime<Utc>) -> bool {
        self.status == AppointmentStatus::Booked && self.ends_at > now
    }
}

/// Why one branch cannot let the customer go yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BranchBlock {
    pub branch: BranchId,
    pub appointment: AppointmentId,
    pub starts_at: DateTime<Utc>,
}

/// What deleting a customer does in each of its branches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DeletionPlan {
    /// Branches where the customer goes at once.
    pub cleared: Vec<BranchId>,
    /// Branches that keep the customer until the appointment is cancelled, deleted or over.
    pub blocked: Vec<BranchBlock>,
}

impl DeletionPlan {
    /// True when no branch blocks: the customer can be deleted for good now.
    pub fn is_complete(&self) -> bool {
        self.blocked.is_empty()
    }
}

/// Plans the deletion of a customer assigned to `branches` with `appointments`, at `now`.
///
/// A branch with an appointment that blocks is blocked even if the customer is no longer
/// assigned to it: the branch still expects the person to come. Each blocked branch names
/// its earliest blocking appointment.
pub fn plan_deletion(
    branches: &[BranchId],
    appointments: &[AppointmentSlot],
    now: DateTime<Utc>,
) -> DeletionPlan {
    let mut blocked: Vec<BranchBlock> = Vec::new();
    for slot in appointments.iter().filter(|a| a.blocks_deletion(now)) {
        match blocked.iter_mut().find(|b| b.branch == slot.branch) {
            Some(block) if slot.starts_at < block.starts_at => {
                block.appointment = slot.id;
                block.starts_at = slot.starts_at;
            }
            Some(_) => {}
            None => blocked.push(BranchBlock {
                branch: slot.branch,
                appointment: slot.id,
                starts_at: slot.starts_at,
            }),
        }
    }
    blocked.sort_by_key(|b| (b.starts_at, b.branch));

    let mut cleared: Vec<BranchId> = branches
        .iter()
        .copied()
        .filter(|b| !blocked.iter().any(|x| x.branch == *b))
        .collect();
    cleared.sort();
    cleared.dedup();
    DeletionPlan { cleared, blocked }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap()
    }

    fn slot(branch: BranchId, hours_from_now: i64, status: AppointmentStatus) -> AppointmentSlot {
        let starts_at = now() + Duration::hours(hours_from_now);
        AppointmentSlot {
            id: AppointmentId::new(),
            branch,
            starts_at,
            ends_at: starts_at + Duration::minutes(45),
            status,
        }
    }

    #[test]
    fn customer_without_appointments_is_cleared_everywhere() {
        let (a, b) = (BranchId::new(), BranchId::new());
        let plan = plan_deletion(&[a, b], &[], now());
        assert!(plan.is_complete());
        assert_eq!(plan.cleared.len(), 2);
    }

    #[test]
    fn future_booked_appointment_blocks_only_its_branch() {
        let (a, b) = (BranchId::new(), BranchId::new());
        let plan = plan_deletion(&[a, b], &[slot(a, 48, AppointmentStatus::Booked)], now());
        assert_eq!(plan.cleared, vec![b]);
        assert_eq!(plan.blocked.len(), 1);
        assert_eq!(plan.blocked[0].branch, a);
    }

    #[test]
    fn cancelled_completed_and_past_appointments_do_not_block() {
        let a = BranchId::new();
        let slots = [
            slot(a, 48, AppointmentStatus::Cancelled),
            slot(a, 48, AppointmentStatus::Completed),
            slot(a, -2, AppointmentStatus::Booked),
        ];
        assert!(plan_deletion(&[a], &slots, now()).is_complete());
    }

    #[test]
    fn appointment_in_progress_still_blocks() {
        let a = BranchId::new();
        let running = slot(a, 0, AppointmentStatus::Booked);
        let plan = plan_deletion(&[a], &[running], now() + Duration::minutes(10));
        assert!(
            !plan.is_complete(),
            "the customer is in the chair right now"
        );
    }

    #[test]
    fn blocked_branch_names_its_earliest_appointment() {
        let a = BranchId::new();
        let later = slot(a, 72, AppointmentStatus::Booked);
        let sooner = slot(a, 24, AppointmentStatus::Booked);
        let plan = plan_deletion(&[a], &[later, sooner.clone()], now());
        assert_eq!(plan.blocked.len(), 1);
        assert_eq!(plan.blocked[0].appointment, sooner.id);
    }

    #[test]
    fn appointment_in_unassigned_branch_still_blocks_it() {
        let (a, b) = (BranchId::new(), BranchId::new());
        let plan = plan_deletion(&[a], &[slot(b, 5, AppointmentStatus::Booked)], now());
        assert_eq!(plan.cleared, vec![a]);
        assert_eq!(plan.blocked[0].branch, b);
    }
}
