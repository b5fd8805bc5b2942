package iris

import (
	"errors"
	"testing"
)

// qlist lines: isclib's fixtures (real output of older versions) and lines
// in the current 14-field format.
const (
	qlistRunning    = "IRIS^/usr/irissys^2025.1.0.223.0^running, since Mon Nov 24 10:00:00 2026^iris.cpf^1972^52773^62972^ok^IRIS^^^/irissys/data/IRIS^1972\n"
	qlistFrozen     = "IRIS^/usr/irissys^2025.1.0.223.0^running, since Mon Nov 24 10:00:00 2026^iris.cpf^1972^52773^62972^hung^IRIS^^^/irissys/data/IRIS^1972"
	qlistDocker     = "DOCKER^/ensemble/instances/docker^2018.1.1.643.0^running, since Mon Jul 23 14:42:09 2018^iris.cpf^1972^57772^62972^ok^IRIS^^^/ensemble/instances/docker"
	qlistWarn       = "C151^/usr/cachesys^2015.1.0.429.0^running, since Mon Jun  8 12:00:30 2015^cache.cpf^1972^57772^62972^warn^"
	qlistInhibited  = "CACHE142^/Users/CACHE142^2014.2.0.177.0^sign-on inhibited, last used Mon Jun  8 11:31:37 2015^cache.cpf^1972^57772^62972^"
	qlistDown       = "C151^/usr/cachesys^2015.1.0.429.0^down, last used Mon Jun  8 16:40:07 2015^cache.cpf^1972^57772^62972^^"
	qlistMirror     = "MIRROR^/usr/cachesys^2016.1^running, since Mon Jun  8 12:00:30 2015^cache.cpf^56772^57772^62972^ok^^Failover^Primary^/mgr/config"
	qlistPrimary    = "IRIS^/usr/irissys^2025.1^sign-on inhibited:primary transition, since Mon Nov 24 10:00:00 2026^iris.cpf^1972^52773^62972^alert^IRIS^Failover^Transition^/irissys/data/IRIS^1972"
	qlistCacheIDs   = "IRIS^/usr/irissys^2025.1^running on node ? (cache.ids missing)^iris.cpf^1972"
	qlistTransition = "IRIS^/usr/irissys^2025.1^starting or stopping^iris.cpf^1972"
	qlistIncomplete = "IRIS^/usr/irissys^2025.1^incomplete start or stop, logins disabled^iris.cpf^1972"
)

func TestParseQlist(t *testing.T) {
	for _, tc := range []struct {
		name, out, instance string
		want                Instance
	}{
		{"running", qlistRunning, "IRIS", Instance{
			Name: "IRIS", InstallDir: "/usr/irissys", Version: "2025.1.0.223.0",
			Status: StatusRunning, StatusText: "running, since Mon Nov 24 10:00:00 2026", Since: "Mon Nov 24 10:00:00 2026",
			CPF: "iris.cpf", SuperserverPort: 1972, WebPort: 52773, JDBCPort: 62972, Health: HealthOK, Product: "IRIS",
			DataDirectory: "/irissys/data/IRIS", SuperserverPorts: "1972",
		}},
		{"frozen reads hung but runs", qlistFrozen, "iris", Instance{
			Name: "IRIS", InstallDir: "/usr/irissys", Version: "2025.1.0.223.0",
			Status: StatusRunning, StatusText: "running, since Mon Nov 24 10:00:00 2026", Since: "Mon Nov 24 10:00:00 2026",
			CPF: "iris.cpf", SuperserverPort: 1972, WebPort: 52773, JDBCPort: 62972, Health: HealthHung, Product: "IRIS",
			DataDirectory: "/irissys/data/IRIS", SuperserverPorts: "1972",
		}},
		{"13 fields (2018)", qlistDocker, "docker", Instance{
			Name: "DOCKER", InstallDir: "/ensemble/instances/docker", Version: "2018.1.1.643.0",
			Status: StatusRunning, StatusText: "running, since Mon Jul 23 14:42:09 2018", Since: "Mon Jul 23 14:42:09 2018",
			CPF: "iris.cpf", SuperserverPort: 1972, WebPort: 57772, JDBCPort: 62972, Health: HealthOK, Product: "IRIS",
			DataDirectory: "/ensemble/instances/docker",
		}},
		{"10 fields, warn", qlistWarn, "C151", Instance{
			Name: "C151", InstallDir: "/usr/cachesys", Version: "2015.1.0.429.0",
			Status: StatusRunning, StatusText: "running, since Mon Jun  8 12:00:30 2015", Since: "Mon Jun  8 12:00:30 2015",
			CPF: "cache.cpf", SuperserverPort: 1972, WebPort: 57772, JDBCPort: 62972, Health: HealthWarn,
		}},
		{"sign-on inhibited, 9 fields", qlistInhibited, "cache142", Instance{
			Name: "CACHE142", InstallDir: "/Users/CACHE142", Version: "2014.2.0.177.0",
			Status: StatusSignOnInhibited, StatusText: "sign-on inhibited, last used Mon Jun  8 11:31:37 2015", Since: "Mon Jun  8 11:31:37 2015",
			CPF: "cache.cpf", SuperserverPort: 1972, WebPort: 57772, JDBCPort: 62972,
		}},
		{"down", qlistDown, "C151", Instance{
			Name: "C151", InstallDir: "/usr/cachesys", Version: "2015.1.0.429.0",
			Status: StatusDown, StatusText: "down, last used Mon Jun  8 16:40:07 2015", Since: "Mon Jun  8 16:40:07 2015",
			CPF: "cache.cpf", SuperserverPort: 1972, WebPort: 57772, JDBCPort: 62972,
		}},
		{"mirror member", qlistMirror, "mirror", Instance{
			Name: "MIRROR", InstallDir: "/usr/cachesys", Version: "2016.1",
			Status: StatusRunning, StatusText: "running, since Mon Jun  8 12:00:30 2015", Since: "Mon Jun  8 12:00:30 2015",
			CPF: "cache.cpf", SuperserverPort: 56772, WebPort: 57772, JDBCPort: 62972, Health: HealthOK,
			MirrorMemberType: "Failover", MirrorStatus: "Primary", DataDirectory: "/mgr/config",
		}},
		{"primary transition", qlistPrimary, "IRIS", Instance{
			Name: "IRIS", InstallDir: "/usr/irissys", Version: "2025.1",
			Status: StatusSignOnInhibited, StatusText: "sign-on inhibited:primary transition, since Mon Nov 24 10:00:00 2026",
			Since: "Mon Nov 24 10:00:00 2026", CPF: "iris.cpf", SuperserverPort: 1972, WebPort: 52773, JDBCPort: 62972,
			Health: HealthAlert, Product: "IRIS", MirrorMemberType: "Failover", MirrorStatus: "Transition",
			DataDirectory: "/irissys/data/IRIS", SuperserverPorts: "1972",
		}},
		{"cache.ids missing counts as running", qlistCacheIDs, "IRIS", Instance{
			Name: "IRIS", InstallDir: "/usr/irissys", Version: "2025.1",
			Status: StatusRunning, StatusText: "running on node ? (cache.ids missing)", CPF: "iris.cpf", SuperserverPort: 1972,
		}},
		{"starting or stopping", qlistTransition, "IRIS", Instance{
			Name: "IRIS", InstallDir: "/usr/irissys", Version: "2025.1",
			Status: StatusTransition, StatusText: "starting or stopping", CPF: "iris.cpf", SuperserverPort: 1972,
		}},
		{"incomplete", qlistIncomplete, "IRIS", Instance{
			Name: "IRIS", InstallDir: "/usr/irissys", Version: "2025.1",
			Status: StatusTransition, StatusText: "incomplete start or stop, logins disabled", CPF: "iris.cpf", SuperserverPort: 1972,
		}},
		{"several instances", qlistDown + "\n" + qlistRunning + "\n", "IRIS", Instance{
			Name: "IRIS", InstallDir: "/usr/irissys", Version: "2025.1.0.223.0",
			Status: StatusRunning, StatusText: "running, since Mon Nov 24 10:00:00 2026", Since: "Mon Nov 24 10:00:00 2026",
			CPF: "iris.cpf", SuperserverPort: 1972, WebPort: 52773, JDBCPort: 62972, Health: HealthOK, Product: "IRIS",
			DataDirectory: "/irissys/data/IRIS", SuperserverPorts: "1972",
		}},
		{"CRLF and a warning line", "Warning: something\r\n" + "IRIS^/usr/irissys^2025.1^down, last used Mon Nov 24 10:00:00 2026^iris.cpf^x\r\n", "IRIS", Instance{
			Name: "IRIS", InstallDir: "/usr/irissys", Version: "2025.1",
			Status: StatusDown, StatusText: "down, last used Mon Nov 24 10:00:00 2026", Since: "Mon Nov 24 10:00:00 2026", CPF: "iris.cpf",
		}},
		{"unknown status and health", "IRIS^/usr/irissys^2099.1^levitating^iris.cpf^1972^^^purple", "IRIS", Instance{
			Name: "IRIS", InstallDir: "/usr/irissys", Version: "2099.1",
			Status: StatusUnknown, StatusText: "levitating", CPF: "iris.cpf", SuperserverPort: 1972,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseQlistInstance(tc.out, tc.instance)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseQlistDefaultsToIRIS(t *testing.T) {
	inst, err := ParseQlist(qlistDown + "\n" + qlistRunning)
	if err != nil || inst.Name != "IRIS" || !inst.Running() {
		t.Errorf("ParseQlist = %+v, %v", inst, err)
	}
}

func TestParseQlistErrors(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		is        error // nil: any error
	}{
		{"empty", "", nil},
		{"no such instance", qlistDown, nil},
		{"too few fields", "IRIS^x^y", nil},
		{"not qlist output", "iris: command not found", nil},
		{"indeterminate line", "IRIS^/usr/irissys^2025.1^indeterminate^iris.cpf^1972", ErrIndeterminate},
		{"indeterminate text", "Instance status indeterminate", ErrIndeterminate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseQlist(tc.out)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Errorf("err = %v, want %v", err, tc.is)
			}
		})
	}
}
