CREATE TYPE "public"."campaign_status" AS ENUM('draft', 'running', 'complete', 'archived');--> statement-breakpoint
CREATE TYPE "public"."dataset_format" AS ENUM('idx', 'cifar', 'images');--> statement-breakpoint
CREATE TYPE "public"."prior_model_status" AS ENUM('converting', 'ready', 'rejected');--> statement-breakpoint
CREATE TYPE "public"."work_phase" AS ENUM('score', 'align', 'target');--> statement-breakpoint
CREATE TABLE "campaign_models" (
	"campaign_id" integer NOT NULL,
	"model_id" integer NOT NULL,
	CONSTRAINT "campaign_models_campaign_id_model_id_pk" PRIMARY KEY("campaign_id","model_id")
);
--> statement-breakpoint
CREATE TABLE "campaigns" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"dataset_id" integer NOT NULL,
	"shard_size" integer NOT NULL,
	"shared_set_size" integer NOT NULL,
	"target_dim" integer NOT NULL,
	"seed" bigint NOT NULL,
	"verification_policy" jsonb NOT NULL,
	"status" "campaign_status" DEFAULT 'draft' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "campaigns_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "dataset_label_sets" (
	"dataset_id" integer PRIMARY KEY NOT NULL,
	"class_names" jsonb
);
--> statement-breakpoint
CREATE TABLE "datasets" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"format" "dataset_format" NOT NULL,
	"count" integer NOT NULL,
	"height" integer NOT NULL,
	"width" integer NOT NULL,
	"channels" integer NOT NULL,
	"source_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "datasets_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "label_ranges" (
	"dataset_id" integer NOT NULL,
	"start" integer NOT NULL,
	"count" integer NOT NULL,
	"blob_key" text NOT NULL,
	CONSTRAINT "label_ranges_dataset_id_start_pk" PRIMARY KEY("dataset_id","start")
);
--> statement-breakpoint
CREATE TABLE "leases" (
	"id" serial PRIMARY KEY NOT NULL,
	"work_item_id" integer NOT NULL,
	"volunteer_id" uuid NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"heartbeat_at" timestamp with time zone DEFAULT now() NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "prior_models" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"status" "prior_model_status" DEFAULT 'converting' NOT NULL,
	"onnx_blob_key" text NOT NULL,
	"graph_model_blob_key" text,
	"input_height" integer,
	"input_width" integer,
	"input_channels" integer,
	"pixel_scale" real,
	"mean" jsonb,
	"std" jsonb,
	"feature_dim" integer,
	"rejection" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "prior_models_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "results" (
	"id" serial PRIMARY KEY NOT NULL,
	"work_item_id" integer NOT NULL,
	"volunteer_id" uuid NOT NULL,
	"blob_key" text NOT NULL,
	"checksum" text NOT NULL,
	"verified" boolean,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rounds" (
	"id" serial PRIMARY KEY NOT NULL,
	"campaign_id" integer NOT NULL,
	"number" integer NOT NULL,
	"best_model_id" integer,
	"status" text DEFAULT 'scoring' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sample_ranges" (
	"dataset_id" integer NOT NULL,
	"start" integer NOT NULL,
	"count" integer NOT NULL,
	"blob_key" text NOT NULL,
	CONSTRAINT "sample_ranges_dataset_id_start_pk" PRIMARY KEY("dataset_id","start")
);
--> statement-breakpoint
CREATE TABLE "shards" (
	"id" serial PRIMARY KEY NOT NULL,
	"campaign_id" integer NOT NULL,
	"index" integer NOT NULL,
	"sample_count" integer NOT NULL,
	"sample_ids_blob_key" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "training_runs" (
	"id" serial PRIMARY KEY NOT NULL,
	"round_id" integer,
	"status" text DEFAULT 'queued' NOT NULL,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"metrics" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "volunteers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"token_hash" text NOT NULL,
	"reputation" double precision DEFAULT 1 NOT NULL,
	"credit" bigint DEFAULT 0 NOT NULL,
	"last_seen_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "volunteers_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "work_items" (
	"id" serial PRIMARY KEY NOT NULL,
	"round_id" integer NOT NULL,
	"phase" "work_phase" NOT NULL,
	"shard_id" integer,
	"model_id" integer NOT NULL,
	"replicas_wanted" integer DEFAULT 1 NOT NULL,
	"status" text DEFAULT 'open' NOT NULL
);
--> statement-breakpoint
ALTER TABLE "campaign_models" ADD CONSTRAINT "campaign_models_campaign_id_campaigns_id_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."campaigns"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaign_models" ADD CONSTRAINT "campaign_models_model_id_prior_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."prior_models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaigns" ADD CONSTRAINT "campaigns_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dataset_label_sets" ADD CONSTRAINT "dataset_label_sets_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "label_ranges" ADD CONSTRAINT "label_ranges_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "leases" ADD CONSTRAINT "leases_work_item_id_work_items_id_fk" FOREIGN KEY ("work_item_id") REFERENCES "public"."work_items"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "leases" ADD CONSTRAINT "leases_volunteer_id_volunteers_id_fk" FOREIGN KEY ("volunteer_id") REFERENCES "public"."volunteers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "results" ADD CONSTRAINT "results_work_item_id_work_items_id_fk" FOREIGN KEY ("work_item_id") REFERENCES "public"."work_items"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "results" ADD CONSTRAINT "results_volunteer_id_volunteers_id_fk" FOREIGN KEY ("volunteer_id") REFERENCES "public"."volunteers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rounds" ADD CONSTRAINT "rounds_campaign_id_campaigns_id_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."campaigns"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rounds" ADD CONSTRAINT "rounds_best_model_id_prior_models_id_fk" FOREIGN KEY ("best_model_id") REFERENCES "public"."prior_models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sample_ranges" ADD CONSTRAINT "sample_ranges_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "shards" ADD CONSTRAINT "shards_campaign_id_campaigns_id_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."campaigns"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "training_runs" ADD CONSTRAINT "training_runs_round_id_rounds_id_fk" FOREIGN KEY ("round_id") REFERENCES "public"."rounds"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_items" ADD CONSTRAINT "work_items_round_id_rounds_id_fk" FOREIGN KEY ("round_id") REFERENCES "public"."rounds"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_items" ADD CONSTRAINT "work_items_shard_id_shards_id_fk" FOREIGN KEY ("shard_id") REFERENCES "public"."shards"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_items" ADD CONSTRAINT "work_items_model_id_prior_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."prior_models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "leases_expiry" ON "leases" USING btree ("active","expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "results_item_volunteer" ON "results" USING btree ("work_item_id","volunteer_id");--> statement-breakpoint
CREATE UNIQUE INDEX "rounds_campaign_number" ON "rounds" USING btree ("campaign_id","number");--> statement-breakpoint
CREATE UNIQUE INDEX "shards_campaign_index" ON "shards" USING btree ("campaign_id","index");--> statement-breakpoint
CREATE INDEX "work_items_round_status" ON "work_items" USING btree ("round_id","status");