ALTER TABLE "leases" ADD COLUMN "outcome" text;--> statement-breakpoint
ALTER TABLE "results" ADD COLUMN "lease_id" integer;--> statement-breakpoint
ALTER TABLE "results" ADD COLUMN "rows" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "work_items" ADD COLUMN "created_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "results" ADD CONSTRAINT "results_lease_id_leases_id_fk" FOREIGN KEY ("lease_id") REFERENCES "public"."leases"("id") ON DELETE no action ON UPDATE no action;