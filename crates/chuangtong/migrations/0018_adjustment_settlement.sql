-- 补发与追回 settled through the ledger.
--
-- A pending application adjustment (see 0016) is settled by a base admin: a
-- top-up is paid from the programme's budget to the firm's payable (against
-- the application's cost item, under its cap, when it names one); a
-- clawback moves the amount back from the firm's payable to the budget, so
-- what the base owes the firm is again what the corrected rules give. The
-- adjustment keeps the transfer that settled it.
ALTER TABLE application_adjustments ADD COLUMN transfer_id TEXT;
ALTER TABLE application_adjustments ADD COLUMN settled_at TEXT;
