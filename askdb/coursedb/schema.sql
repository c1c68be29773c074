-- The bundled course database: departments, courses, sections, students and enrollments of one university.
-- Terms are named like 'Fall 2026'; the current term ("this semester") is Fall 2026.

CREATE TABLE departments (
    id serial PRIMARY KEY,
    code text UNIQUE NOT NULL,
    name text NOT NULL,
    building text
);
COMMENT ON TABLE departments IS 'Academic departments of the university (e.g. CE Computer Engineering, CS Computer Science).';
COMMENT ON COLUMN departments.id IS 'Primary key of the department.';
COMMENT ON COLUMN departments.code IS 'Short department code used as the prefix of course codes, e.g. ''CE'', ''CS'', ''EE'', ''MATH'', ''PHYS''.';
COMMENT ON COLUMN departments.name IS 'Full department name, e.g. ''Computer Engineering''.';
COMMENT ON COLUMN departments.building IS 'Name of the building that houses the department offices, e.g. ''Engineering Hall''.';

CREATE TABLE instructors (
    id serial PRIMARY KEY,
    first_name text,
    last_name text,
    email text UNIQUE,
    title text,
    department_id int REFERENCES departments (id)
);
COMMENT ON TABLE instructors IS 'Faculty members who teach course sections.';
COMMENT ON COLUMN instructors.id IS 'Primary key of the instructor.';
COMMENT ON COLUMN instructors.first_name IS 'Instructor''s given name.';
COMMENT ON COLUMN instructors.last_name IS 'Instructor''s family name.';
COMMENT ON COLUMN instructors.email IS 'Instructor''s university email address.';
COMMENT ON COLUMN instructors.title IS 'Academic rank: ''Professor'', ''Associate Professor'', ''Assistant Professor'' or ''Lecturer''.';
COMMENT ON COLUMN instructors.department_id IS 'Home department of the instructor; references departments.id.';

CREATE TABLE courses (
    id serial PRIMARY KEY,
    code text UNIQUE NOT NULL,
    title text NOT NULL,
    description text,
    credits int NOT NULL,
    level text CHECK (level IN ('undergraduate', 'graduate')),
    department_id int REFERENCES departments (id)
);
COMMENT ON TABLE courses IS 'Catalog of courses. A course is offered as one or more sections in a term.';
COMMENT ON COLUMN courses.id IS 'Primary key of the course.';
COMMENT ON COLUMN courses.code IS 'Catalog code: department code, a space and a 4-digit number, e.g. ''CE 4229''. The first digit is the year level (5xxx = graduate).';
COMMENT ON COLUMN courses.title IS 'Course title, e.g. ''Introduction to Cloud Computing''.';
COMMENT ON COLUMN courses.description IS 'Catalog description of the course content.';
COMMENT ON COLUMN courses.credits IS 'Number of credit hours (3 or 4).';
COMMENT ON COLUMN courses.level IS 'Either ''undergraduate'' or ''graduate''.';
COMMENT ON COLUMN courses.department_id IS 'Department offering the course; references departments.id.';

CREATE TABLE course_topics (
    id serial PRIMARY KEY,
    course_id int REFERENCES courses (id),
    week int,
    topic text NOT NULL
);
COMMENT ON TABLE course_topics IS 'Syllabus of each course: the topic covered in each week, one row per week.';
COMMENT ON COLUMN course_topics.id IS 'Primary key of the topic row.';
COMMENT ON COLUMN course_topics.course_id IS 'Course whose syllabus this topic belongs to; references courses.id.';
COMMENT ON COLUMN course_topics.week IS 'Week of the term in which the topic is covered, numbered from 1.';
COMMENT ON COLUMN course_topics.topic IS 'Name of the topic, e.g. ''Virtualization and hypervisors''.';

CREATE TABLE prerequisites (
    course_id int REFERENCES courses (id),
    prerequisite_id int REFERENCES courses (id),
    PRIMARY KEY (course_id, prerequisite_id)
);
COMMENT ON TABLE prerequisites IS 'Course prerequisites: prerequisite_id must be passed before taking course_id. Both reference courses.id.';
COMMENT ON COLUMN prerequisites.course_id IS 'The course that has the requirement; references courses.id.';
COMMENT ON COLUMN prerequisites.prerequisite_id IS 'The course that must be completed first; references courses.id.';

CREATE TABLE terms (
    id serial PRIMARY KEY,
    name text UNIQUE NOT NULL,
    starts_on date,
    ends_on date
);
COMMENT ON TABLE terms IS 'Academic terms (semesters): ''Fall 2025'', ''Spring 2026'', ''Fall 2026''. The current term is Fall 2026.';
COMMENT ON COLUMN terms.id IS 'Primary key of the term.';
COMMENT ON COLUMN terms.name IS 'Term name: season and year, e.g. ''Fall 2026''.';
COMMENT ON COLUMN terms.starts_on IS 'First day of classes of the term.';
COMMENT ON COLUMN terms.ends_on IS 'Last day of the term (end of final exams).';

CREATE TABLE sections (
    id serial PRIMARY KEY,
    course_id int REFERENCES courses (id),
    term_id int REFERENCES terms (id),
    instructor_id int REFERENCES instructors (id),
    section_number text,
    room text,
    meeting_days text,
    start_time time,
    end_time time,
    capacity int
);
COMMENT ON TABLE sections IS 'A course offered in a term: who teaches it, where and when it meets. Students enroll in sections.';
COMMENT ON COLUMN sections.id IS 'Primary key of the section.';
COMMENT ON COLUMN sections.course_id IS 'Course being taught; references courses.id.';
COMMENT ON COLUMN sections.term_id IS 'Term in which the section runs; references terms.id.';
COMMENT ON COLUMN sections.instructor_id IS 'Instructor teaching the section; references instructors.id.';
COMMENT ON COLUMN sections.section_number IS 'Section number within the course and term, e.g. ''001'', ''002''.';
COMMENT ON COLUMN sections.room IS 'Classroom: building abbreviation and room number, e.g. ''ENG 210''.';
COMMENT ON COLUMN sections.meeting_days IS 'Days the section meets: letters M T W R F (R = Thursday), e.g. ''MWF'', ''TR'', ''MW''.';
COMMENT ON COLUMN sections.start_time IS 'Time the class starts on each meeting day.';
COMMENT ON COLUMN sections.end_time IS 'Time the class ends on each meeting day.';
COMMENT ON COLUMN sections.capacity IS 'Maximum number of students that can enroll in the section.';

CREATE TABLE students (
    id serial PRIMARY KEY,
    first_name text,
    last_name text,
    email text UNIQUE,
    major_department_id int REFERENCES departments (id),
    admit_year int
);
COMMENT ON TABLE students IS 'Students of the university.';
COMMENT ON COLUMN students.id IS 'Primary key of the student.';
COMMENT ON COLUMN students.first_name IS 'Student''s given name.';
COMMENT ON COLUMN students.last_name IS 'Student''s family name.';
COMMENT ON COLUMN students.email IS 'Student''s university email address.';
COMMENT ON COLUMN students.major_department_id IS 'Department of the student''s major; references departments.id.';
COMMENT ON COLUMN students.admit_year IS 'Year the student was admitted, e.g. 2024.';

CREATE TABLE enrollments (
    student_id int REFERENCES students (id),
    section_id int REFERENCES sections (id),
    status text CHECK (status IN ('enrolled', 'dropped', 'completed')),
    grade text,
    PRIMARY KEY (student_id, section_id)
);
COMMENT ON TABLE enrollments IS 'Which students take which sections. Past terms have status completed or dropped; the current term (Fall 2026) has enrolled or dropped.';
COMMENT ON COLUMN enrollments.student_id IS 'The student; references students.id.';
COMMENT ON COLUMN enrollments.section_id IS 'The section taken; references sections.id.';
COMMENT ON COLUMN enrollments.status IS '''enrolled'' (currently taking it), ''dropped'' (withdrew) or ''completed'' (finished with a grade).';
COMMENT ON COLUMN enrollments.grade IS 'Final letter grade (A, A-, B+, B, B-, C+, C, D, F); NULL unless status is ''completed''.';

CREATE TABLE assessments (
    id serial PRIMARY KEY,
    course_id int REFERENCES courses (id),
    name text,
    kind text CHECK (kind IN ('exam', 'project', 'quiz', 'homework', 'lab')),
    weight_percent numeric(5, 2)
);
COMMENT ON TABLE assessments IS 'Graded components of each course and their weights; the weights of a course sum to 100.';
COMMENT ON COLUMN assessments.id IS 'Primary key of the assessment.';
COMMENT ON COLUMN assessments.course_id IS 'Course the assessment belongs to; references courses.id.';
COMMENT ON COLUMN assessments.name IS 'Name of the assessment, e.g. ''Midterm Exam'', ''Final Exam'', ''Term Project''.';
COMMENT ON COLUMN assessments.kind IS 'Kind of assessment: ''exam'', ''project'', ''quiz'', ''homework'' or ''lab''.';
COMMENT ON COLUMN assessments.weight_percent IS 'Share of the final grade in percent, e.g. 30.00.';
