package health

import "testing"

func TestCPUTemp(t *testing.T) {
	const z = "class/thermal/thermal_zone"
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  *float64
	}{
		{name: "raspberry pi", files: map[string]string{z + "0/type": "cpu-thermal\n", z + "0/temp": "48312\n"}, want: ptr(48.312)},
		{name: "preferred type over the first zone",
			files: map[string]string{
				z + "0/type": "acpitz\n", z + "0/temp": "27800\n",
				z + "1/type": "x86_pkg_temp\n", z + "1/temp": "45000\n",
			},
			want: ptr(45.0)},
		{name: "better type wins", files: map[string]string{
			z + "0/type": "soc_thermal\n", z + "0/temp": "40000\n",
			z + "1/type": "cpu_thermal\n", z + "1/temp": "41000\n",
		}, want: ptr(41.0)},
		{name: "first zone numerically, not by name",
			files: map[string]string{
				z + "10/type": "acpitz\n", z + "10/temp": "10000\n",
				z + "2/type": "acpitz\n", z + "2/temp": "20000\n",
			},
			want: ptr(20.0)},
		{name: "unreadable preferred zone falls back",
			files: map[string]string{
				z + "0/type": "x86_pkg_temp\n",
				z + "1/type": "acpitz\n", z + "1/temp": "30500\n",
			},
			want: ptr(30.5)},
		{name: "zone without type", files: map[string]string{z + "0/temp": "51000"}, want: ptr(51.0)},
		{name: "below zero", files: map[string]string{z + "0/type": "cpu-thermal\n", z + "0/temp": "-12500\n"}, want: ptr(-12.5)},
		{name: "no reading (-274000)", files: map[string]string{z + "0/type": "cpu-thermal\n", z + "0/temp": "-274000\n"}},
		{name: "no reading (0x7fffffff)", files: map[string]string{z + "0/type": "cpu-thermal\n", z + "0/temp": "2147483647\n"}},
		{name: "non-numeric", files: map[string]string{z + "0/type": "cpu-thermal\n", z + "0/temp": "hot\n"}},
		{name: "not whole millidegrees", files: map[string]string{z + "0/temp": "48.3\n"}},
		{name: "empty temp", files: map[string]string{z + "0/type": "cpu-thermal\n", z + "0/temp": ""}},
		{name: "not a zone", files: map[string]string{z + "x/type": "cpu-thermal\n", z + "x/temp": "40000\n"}},
		{name: "no zones", files: map[string]string{"class/hwmon/hwmon0/name": "coretemp\n"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := cpuTemp(writeTree(t, tt.files))
			if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
				t.Errorf("cpuTemp = %v, want %v", fmtTemp(got), fmtTemp(tt.want))
			}
		})
	}
}

func fmtTemp(p *float64) any {
	if p == nil {
		return "nil"
	}
	return *p
}
