ALTER TABLE "results" ADD COLUMN "checked_rows" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "results" ADD COLUMN "verify_ms" double precision DEFAULT 0 NOT NULL;