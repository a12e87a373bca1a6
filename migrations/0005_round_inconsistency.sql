ALTER TABLE "rounds" ADD COLUMN "inconsistency_before" double precision;--> statement-breakpoint
ALTER TABLE "rounds" ADD COLUMN "inconsistency_after" double precision;