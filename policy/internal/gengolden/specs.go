package main

// shot is one snapshot to take: a wall-clock time as restic's --time takes
// it, read in zone (the scenario's zone when empty), of the tiny folders
// named by paths, for host, with tags.
type shot struct {
	time  string
	zone  string
	host  string
	paths []string
	tags  []string
}

// alpha, beta and both make the three backup sets: host alpha backing up
// /data, host beta backing up /data, and host alpha backing up /etc and
// /data together (named in that order; restic sorts them when grouping).
func alpha(t string, tags ...string) shot {
	return shot{time: t, host: "alpha", paths: []string{"/data"}, tags: tags}
}
func beta(t string, tags ...string) shot {
	return shot{time: t, host: "beta", paths: []string{"/data"}, tags: tags}
}
func both(t string, tags ...string) shot {
	return shot{time: t, host: "alpha", paths: []string{"/etc", "/data"}, tags: tags}
}

// in sets the zone a shot's time is read in.
func in(zone string, s shot) shot { s.zone = zone; return s }

// shots are the snapshots of every repository. The main set (alpha /data)
// has several snapshots on some days and hours, gaps, month and year ends, ISO
// week ends (29 December 2014 opens 2015-W01; 1-3 January 2016 close
// 2015-W53), a leap day, both daylight-saving changes of Europe/Berlin (and
// one wall-clock hour taken twice, at +02:00 and +01:00), two pairs of equal
// times (equal in everything else too: restic orders equal times as it
// happens to load them, so a pair that differed would make the goldens
// depend on luck), and snapshots exactly 1d, 36h, 7d, 1m and 1y2m3d before its newest
// (2016-04-10 12:00), which keep-within must not keep. beta has two snapshots
// in the future, which durations must not count from.
var shots = []shot{
	alpha("2014-01-01 10:00:00"),
	alpha("2014-06-15 09:00:00", "manual"),
	alpha("2014-11-15 10:20:30"),
	alpha("2014-12-28 23:59:00"),
	alpha("2014-12-29 00:01:00"),
	alpha("2014-12-31 23:59:59"),
	alpha("2015-01-01 00:00:00"),
	alpha("2015-01-01 00:00:01"),
	alpha("2015-01-12 08:00:00"),
	alpha("2015-02-07 12:00:00"),
	alpha("2015-02-07 12:00:01"),
	alpha("2015-02-28 23:59:00"),
	alpha("2015-03-01 00:00:00"),
	alpha("2015-05-20 14:00:00", "manual", "important"),
	alpha("2015-08-08 08:08:08"),
	alpha("2015-10-25 01:15:00"),
	in("Etc/GMT-2", alpha("2015-10-25 02:30:00")),
	in("Etc/GMT-1", alpha("2015-10-25 02:30:00")),
	alpha("2015-10-25 03:30:00"),
	alpha("2015-11-30 23:00:00"),
	alpha("2015-12-27 12:00:00", "weekly-job"),
	alpha("2015-12-28 12:00:00"),
	alpha("2015-12-31 12:00:00"),
	alpha("2016-01-01 00:30:00"),
	alpha("2016-01-03 23:30:00", "weekly-job"),
	alpha("2016-01-04 00:30:00"),
	alpha("2016-01-15 10:00:00", "manual"),
	alpha("2016-02-28 23:00:00"),
	alpha("2016-02-29 00:00:00"),
	alpha("2016-02-29 12:00:00"),
	alpha("2016-02-29 23:59:59"),
	alpha("2016-03-01 00:00:00"),
	alpha("2016-03-08 10:00:00"),
	alpha("2016-03-10 11:30:00"),
	alpha("2016-03-10 12:00:00"),
	alpha("2016-03-10 12:30:00"),
	alpha("2016-03-26 12:00:00"),
	alpha("2016-03-27 01:30:00"),
	alpha("2016-03-27 03:30:00", "weekly-job"),
	alpha("2016-03-28 12:00:00"),
	alpha("2016-03-31 12:00:00"),
	alpha("2016-04-01 09:00:00", "manual"),
	alpha("2016-04-02 09:00:00"),
	alpha("2016-04-03 11:59:59"),
	alpha("2016-04-03 12:00:00", "weekly-job"),
	alpha("2016-04-03 12:00:01"),
	alpha("2016-04-04 00:00:00"),
	alpha("2016-04-05 10:00:00"),
	alpha("2016-04-05 10:00:00"),
	alpha("2016-04-05 18:00:00"),
	alpha("2016-04-06 08:00:00", "daily-job"),
	alpha("2016-04-06 20:00:00", "daily-job"),
	alpha("2016-04-07 08:00:00", "daily-job"),
	alpha("2016-04-08 08:00:00", "manual", "daily-job"),
	alpha("2016-04-08 23:59:59"),
	alpha("2016-04-09 00:00:00"),
	alpha("2016-04-09 00:00:01"),
	alpha("2016-04-09 11:59:59"),
	alpha("2016-04-09 12:00:00"),
	alpha("2016-04-09 12:00:01"),
	alpha("2016-04-09 23:00:00"),
	alpha("2016-04-10 00:00:00"),
	alpha("2016-04-10 08:00:00"),
	alpha("2016-04-10 08:30:00"),
	alpha("2016-04-10 09:00:00"),
	alpha("2016-04-10 09:59:59"),
	alpha("2016-04-10 10:00:00", "important"),
	alpha("2016-04-10 10:00:00", "important"),
	alpha("2016-04-10 11:00:00"),
	alpha("2016-04-10 11:30:00"),
	alpha("2016-04-10 12:00:00"),

	beta("2015-06-01 06:00:00"),
	beta("2015-12-31 23:30:00"),
	beta("2016-01-01 00:45:00"),
	beta("2016-02-01 06:00:00", "manual"),
	beta("2016-03-01 06:00:00"),
	beta("2016-03-15 06:00:00"),
	beta("2016-04-01 06:00:00"),
	beta("2016-04-02 06:00:00"),
	beta("2016-04-03 06:00:00", "weekly-job"),
	beta("2016-04-04 06:00:00"),
	beta("2016-04-05 06:00:00"),
	beta("2016-04-06 06:00:00", "daily-job", "manual"),
	beta("2016-04-07 06:00:00"),
	beta("2099-06-01 12:00:00"),
	beta("2099-06-01 13:00:00", "manual"),

	both("2014-03-01 03:00:00"),
	both("2015-03-01 03:00:00"),
	both("2015-09-01 03:00:00", "important"),
	both("2016-01-01 03:00:00"),
	both("2016-02-01 03:00:00"),
	both("2016-03-01 03:00:00"),
	both("2016-04-01 03:00:00"),
	both("2016-04-08 03:00:00"),
	both("2016-04-09 03:00:00"),
	both("2016-04-11 03:00:00"),
}

// policy is one forget run: its keep and group-by flags. groupBy nil leaves
// --group-by out (restic's default, host,paths).
type policy struct {
	name    string
	args    []string
	groupBy *string
}

// by makes a group-by value.
func by(s string) *string { return &s }

// policies cover every rule alone, unlimited counts, counts larger than the
// history, tag lists (an AND list, several lists, the empty list that matches
// untagged snapshots, spaces after commas, and a tag rule alone that leaves a
// group empty, which restic refuses), combinations, and each grouping.
var policies = []policy{
	{"last-5", []string{"--keep-last", "5"}, nil},
	{"last-unlimited", []string{"--keep-last", "unlimited"}, nil},
	{"hourly-10", []string{"--keep-hourly", "10"}, nil},
	{"hourly-unlimited", []string{"--keep-hourly", "unlimited"}, nil},
	{"daily-7", []string{"--keep-daily", "7"}, nil},
	{"daily-unlimited", []string{"--keep-daily", "unlimited"}, nil},
	{"daily-500", []string{"--keep-daily", "500"}, nil},
	{"weekly-6", []string{"--keep-weekly", "6"}, nil},
	{"weekly-unlimited", []string{"--keep-weekly", "unlimited"}, nil},
	{"monthly-1", []string{"--keep-monthly", "1"}, nil},
	{"monthly-12", []string{"--keep-monthly", "12"}, nil},
	{"monthly-unlimited", []string{"--keep-monthly", "unlimited"}, nil},
	{"yearly-3", []string{"--keep-yearly", "3"}, nil},
	{"yearly-unlimited", []string{"--keep-yearly", "unlimited"}, nil},
	{"within-2h", []string{"--keep-within", "2h"}, nil},
	{"within-1d", []string{"--keep-within", "1d"}, nil},
	{"within-36h", []string{"--keep-within", "36h"}, nil},
	{"within-7d", []string{"--keep-within", "7d"}, nil},
	{"within-1m", []string{"--keep-within", "1m"}, nil},
	{"within-1y2m3d", []string{"--keep-within", "1y2m3d"}, nil},
	{"within-10y", []string{"--keep-within", "10y"}, nil},
	{"within-hourly-1d", []string{"--keep-within-hourly", "1d"}, nil},
	{"within-daily-7d", []string{"--keep-within-daily", "7d"}, nil},
	{"within-daily-1m", []string{"--keep-within-daily", "1m"}, nil},
	{"within-weekly-1m", []string{"--keep-within-weekly", "1m"}, nil},
	{"within-monthly-1y", []string{"--keep-within-monthly", "1y"}, nil},
	{"within-yearly-75y", []string{"--keep-within-yearly", "75y"}, nil},
	{"tag-manual-alone", []string{"--keep-tag", "manual"}, nil},
	{"tag-manual", []string{"--keep-tag", "manual", "--keep-last", "1"}, nil},
	{"tag-manual-and-important", []string{"--keep-tag", "manual,important", "--keep-last", "1"}, nil},
	{"tag-important-or-weekly", []string{"--keep-tag", "important", "--keep-tag", "weekly-job", "--keep-last", "1"}, nil},
	{"tag-untagged", []string{"--keep-tag", "", "--keep-last", "1"}, nil},
	{"tag-empty-then-manual", []string{"--keep-tag", ",manual", "--keep-last", "1"}, nil},
	{"tag-spaces", []string{"--keep-tag", "daily-job, manual", "--keep-last", "1"}, nil},
	{"daily-weekly-monthly-yearly", []string{"--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "12", "--keep-yearly", "3"}, nil},
	{"last-hourly-daily-within", []string{"--keep-last", "3", "--keep-hourly", "24", "--keep-daily", "7", "--keep-within", "1m"}, nil},
	{"within-daily-weekly-monthly-yearly", []string{"--keep-within-daily", "7d", "--keep-within-weekly", "1m", "--keep-within-monthly", "1y", "--keep-within-yearly", "75y"}, nil},
	{"everything", []string{"--keep-last", "2", "--keep-hourly", "3", "--keep-daily", "4", "--keep-weekly", "5",
		"--keep-monthly", "6", "--keep-yearly", "7", "--keep-within", "2d", "--keep-within-hourly", "12h",
		"--keep-within-daily", "10d", "--keep-within-weekly", "2m", "--keep-within-monthly", "1y",
		"--keep-within-yearly", "5y", "--keep-tag", "important"}, nil},
	{"group-host", []string{"--keep-daily", "7", "--keep-weekly", "4"}, by("host")},
	{"group-host-paths", []string{"--keep-last", "2", "--keep-monthly", "3"}, by("host,paths")},
	{"group-tags", []string{"--keep-daily", "3", "--keep-weekly", "2"}, by("tags")},
	{"group-paths-tags", []string{"--keep-yearly", "unlimited"}, by("paths,tags")},
	{"group-none", []string{"--keep-last", "10", "--keep-weekly", "5", "--keep-within", "1m"}, by("")},
	{"group-none-within-1d", []string{"--keep-within", "1d"}, by("")},
	{"group-none-within-hourly-2d", []string{"--keep-within-hourly", "2d", "--keep-monthly", "2"}, by("")},
}
