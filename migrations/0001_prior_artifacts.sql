ALTER TABLE "prior_models" ADD COLUMN "weights_blob_key" text;--> statement-breakpoint
ALTER TABLE "prior_models" ADD COLUMN "feature_tensor" text;--> statement-breakpoint
ALTER TABLE "prior_models" ADD COLUMN "verification" jsonb;