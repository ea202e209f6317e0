-- One PostgreSQL for the team: the MLflow backend store, the Prefect database and the
-- prediction log each get a database of their own (run once, on the first start of the volume).
CREATE DATABASE mlflow;
CREATE DATABASE prefect;
CREATE DATABASE predictions;
