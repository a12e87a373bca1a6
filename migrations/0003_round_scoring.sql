CREATE TABLE "alignments" (
	"round_id" integer NOT NULL,
	"model_id" integer NOT NULL,
	"map_blob_key" text NOT NULL,
	"is_reference" boolean NOT NULL,
	"held_out_r2" double precision,
	"residual" double precision,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "alignments_round_id_model_id_pk" PRIMARY KEY("round_id","model_id")
);
--> statement-breakpoint
CREATE TABLE "prior_scores" (
	"round_id" integer NOT NULL,
	"model_id" integer NOT NULL,
	"uniformity" double precision NOT NULL,
	"features_blob_key" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "prior_scores_round_id_model_id_pk" PRIMARY KEY("round_id","model_id")
);
--> statement-breakpoint
ALTER TABLE "rounds" ADD COLUMN "reference_blob_key" text;--> statement-breakpoint
ALTER TABLE "alignments" ADD CONSTRAINT "alignments_round_id_rounds_id_fk" FOREIGN KEY ("round_id") REFERENCES "public"."rounds"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alignments" ADD CONSTRAINT "alignments_model_id_prior_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."prior_models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "prior_scores" ADD CONSTRAINT "prior_scores_round_id_rounds_id_fk" FOREIGN KEY ("round_id") REFERENCES "public"."rounds"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "prior_scores" ADD CONSTRAINT "prior_scores_model_id_prior_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."prior_models"("id") ON DELETE no action ON UPDATE no action;